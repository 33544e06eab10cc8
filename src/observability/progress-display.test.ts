import test from 'ava';
import { ProgressDisplay } from './progress-display.ts';

/** Just enough of a terminal: lines, the cursor row, \n, ESC[nA (up), ESC[J (clear below), ESC[2K (clear line). */
class Screen {
  lines: string[] = [''];
  row = 0;
  columns = 120;
  write(s: string): void {
    const re = /\x1b\[(\d*)([AJK])|\n|[^\x1b\n]+/g;
    for (const m of s.matchAll(re)) {
      if (m[0] === '\n') {
        this.row++;
        if (this.row >= this.lines.length) this.lines.push('');
      } else if (m[2] === 'A') this.row = Math.max(0, this.row - Number(m[1] || 1));
      else if (m[2] === 'J') this.lines = [...this.lines.slice(0, this.row), ''];
      else if (m[2] === 'K') this.lines[this.row] = '';
      else this.lines[this.row] = (this.lines[this.row] ?? '') + m[0];
    }
  }
  text(): string[] {
    return this.lines.filter((l, i) => l !== '' || i < this.lines.length - 1);
  }
}

function setup() {
  const screen = new Screen();
  let now = 1_000_000;
  const d = new ProgressDisplay({ out: screen, now: () => now, refreshMs: 0 });
  return { screen, d, advance: (ms: number) => (now += ms) };
}

test('one line per guest being launched, below the log, moving through the phases', (t) => {
  const { screen, d, advance } = setup();
  d.print('gridhost ready');
  d.stepStarted('web', 'web-a', 'clone');
  d.stepStarted('web', 'web-b', 'clone');
  advance(2000);
  d.stepStarted('web', 'web-a', 'boot');
  d.print('a log line while launching');
  advance(3000);
  d.stepStarted('web', 'web-a', 'health');
  t.deepEqual(screen.text(), [
    'gridhost ready',
    'a log line while launching',
    'web-a  [###·]  waiting for health  0s (5s in all)',
    'web-b  [#···]  cloning  5s (5s in all)',
  ]);
  d.stepStarted('web', 'web-a', 'register');
  d.stepEnded({ pool: 'web', guest: 'web-a', action: 'register', from: 'booting', to: 'healthy', durationMs: 10 });
  d.stepEnded({ pool: 'web', guest: 'web-b', action: 'clone', from: 'none', to: 'failed', durationMs: 10, error: { code: 'GH_CLONE_FAILED', message: 'disk full' } });
  t.deepEqual(screen.text(), [
    'gridhost ready',
    'a log line while launching',
    'web-a: in the balancer after 5.0s',
    'web-b: launch failed while cloning after 5.0s: disk full',
  ]);
});

test('steps that are not part of a launch do not make progress lines', (t) => {
  const { screen, d } = setup();
  d.stepStarted('web', 'web-a', 'drain');
  d.stepStarted('web', 'web-a', 'stop');
  t.deepEqual(screen.text(), []);
});

test('the logger\'s stream writes above the block and says it is a terminal', (t) => {
  const { screen, d } = setup();
  d.stepStarted('web', 'web-a', 'boot');
  const s = d.logStream();
  t.true(s.isTTY);
  s.write('line one\n');
  t.deepEqual(screen.text(), ['line one', 'web-a  [##··]  booting  0s (0s in all)']);
  d.close();
  t.deepEqual(screen.text(), ['line one']);
});
