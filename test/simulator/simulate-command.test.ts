import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulate } from '../../src/simulator/simulate-command.ts';

const WEB = join(process.cwd(), 'policies', 'web.yaml');

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-simcmd-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSimulate(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** 10 minutes at 1 rps per second, then 10 minutes at 300. */
function stepTraceText(): string {
  return [...Array(600).fill('1'), ...Array(600).fill('300')].join('\n');
}

test('--json prints the figures: metrics, trace and model', async (t) => {
  await withTmp(async (dir) => {
    const trace = join(dir, 't.txt');
    await writeFile(trace, stepTraceText());
    const r = await cli(['--policy', WEB, '--trace', trace, '--json', '--capacity', '50']);
    t.is(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    t.is(j.trace.stepSeconds, 5); // aggregated to the policy's 5 s interval
    t.is(j.trace.steps, 240);
    t.is(j.model.capacityPerGuest, 50);
    for (const k of ['guestHours', 'accuracyU', 'accuracyO', 'timeshareU', 'timeshareO', 'jitter', 'scaleActions', 'underProvisionedRequests']) {
      t.is(typeof j.metrics[k], 'number', k);
    }
    t.true(j.metrics.scaleActions > 0); // 300 rps needs 6 guests
    t.true(j.metrics.timeshareU > 0);
  });
});

test('the text report names every metric', async (t) => {
  await withTmp(async (dir) => {
    const trace = join(dir, 't.txt');
    await writeFile(trace, stepTraceText());
    const r = await cli(['--policy', WEB, '--trace', trace, '--speed']);
    t.is(r.code, 0, r.err);
    for (const k of ['guest-hours', 'accuracy_U', 'accuracy_O', 'timeshare_U', 'timeshare_O', 'jitter', 'scale actions', 'under-provisioned requests', 'speed']) {
      t.regex(r.out, new RegExp(`^${k} `, 'm'), k);
    }
  });
});

test('--plot writes an SVG file', async (t) => {
  await withTmp(async (dir) => {
    const trace = join(dir, 't.txt');
    const svg = join(dir, 'out.svg');
    await writeFile(trace, stepTraceText());
    const r = await cli(['--policy', WEB, '--trace', trace, '--plot', svg]);
    t.is(r.code, 0, r.err);
    const text = await readFile(svg, 'utf8');
    t.true(text.startsWith('<svg'));
    t.regex(text, /supply-line/);
  });
});

test('--plot of a trace that says when it began (CSV with dates) has a UTC date axis; one that does not counts time since the start', async (t) => {
  await withTmp(async (dir) => {
    const start = Date.UTC(1995, 6, 1);
    const rows = ['time,rps'];
    // Three days of 60 s steps.
    for (let i = 0; i < 3 * 1440; i++) rows.push(`${new Date(start + i * 60_000).toISOString()},${20 + 15 * Math.sin(i / 200)}`);
    await writeFile(join(dir, 'dated.csv'), rows.join('\n'));
    // The same rates with the time in seconds: nothing says when it began.
    await writeFile(join(dir, 'plain.txt'), rows.slice(1).map((r, i) => `${i * 60},${r.split(',')[1]}`).join('\n'));
    const dated = await cli(['--policy', WEB, '--trace', join(dir, 'dated.csv'), '--plot', join(dir, 'dated.svg'), '--json']);
    t.is(dated.code, 0, dated.err);
    t.is(JSON.parse(dated.out).trace.startAt, '1995-07-01T00:00:00.000Z');
    t.true((await readFile(join(dir, 'dated.svg'), 'utf8')).includes('>time (UTC), from 1995-07-01 00:00<'));
    const plain = await cli(['--policy', WEB, '--trace', join(dir, 'plain.txt'), '--plot', join(dir, 'plain.svg'), '--json']);
    t.is(plain.code, 0, plain.err);
    t.is(JSON.parse(plain.out).trace.startAt, undefined);
    t.true((await readFile(join(dir, 'plain.svg'), 'utf8')).includes('>time (days since the start)<'));
  });
});

test('a bad trace is GH_TRACE_INVALID naming the file and line, exit 1', async (t) => {
  await withTmp(async (dir) => {
    const trace = join(dir, 'bad.txt');
    await writeFile(trace, '1\n2\n-5\n');
    const r = await cli(['--policy', WEB, '--trace', trace]);
    t.is(r.code, 1);
    t.regex(r.err, /GH_TRACE_INVALID: .*bad\.txt: line 3, value 1 \(offset 4\): negative value -5/);
  });
});

test('an invalid policy is reported as gridhost validate does (FILE:LINE:COL: path: message), exit 1', async (t) => {
  await withTmp(async (dir) => {
    const trace = join(dir, 't.txt');
    const policy = join(dir, 'p.yaml');
    await writeFile(trace, '1 2 3');
    await writeFile(policy, 'pool: web\nmin: 5\nmax: 3\nguest:\n  template: x\n  image: y\nrules:\n  - strategy: threshold\n    metric: cpu\n    above: 70\n    step: +1\n');
    const r = await cli(['--policy', policy, '--trace', trace]);
    t.is(r.code, 1);
    t.regex(r.err, /p\.yaml:\d+:\d+: /);
  });
});

const usage: [string, string[], RegExp][] = [
  ['missing --policy', ['--trace', 'x'], /--policy FILE is required/],
  ['missing --trace', ['--policy', 'x'], /--trace FILE is required/],
  ['a non-numeric --capacity', ['--policy', 'x', '--trace', 'y', '--capacity', 'lots'], /--capacity must be a number > 0/],
  ['a fractional --seed', ['--policy', 'x', '--trace', 'y', '--seed', '1.5'], /--seed must be a whole number/],
  ['an unknown option', ['--policy', 'x', '--trace', 'y', '--fast'], /unknown option "--fast"/],
  ['a flag without its value', ['--policy', 'x', '--trace'], /--trace needs a value/],
];
for (const [name, args, re] of usage) {
  test(`usage error (exit 2): ${name}`, async (t) => {
    const r = await cli(args);
    t.is(r.code, 2);
    t.regex(r.err, re);
    t.regex(r.err, /usage: gridhost simulate/);
  });
}

test('--step 0 keeps the trace step and --peak-guests scales the peak to N x capacity', async (t) => {
  await withTmp(async (dir) => {
    const trace = join(dir, 't.txt');
    await writeFile(trace, '1 2 4 2 1 0 1 2');
    const r = await cli(['--policy', WEB, '--trace', trace, '--json', '--step', '0', '--capacity', '10', '--peak-guests', '8']);
    t.is(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    t.is(j.trace.stepSeconds, 1);
    t.is(j.trace.steps, 8);
    t.is(j.trace.peakRps, 80);
  });
});

test('--noise sets the per-guest measurement noise (default 0.05 for a trace); a negative one is a usage error', async (t) => {
  await withTmp(async (dir) => {
    const trace = join(dir, 't.txt');
    await writeFile(trace, stepTraceText());
    const byDefault = JSON.parse((await cli(['--policy', WEB, '--trace', trace, '--json'])).out);
    t.is(byDefault.model.noise, 0.05);
    const quiet = await cli(['--policy', WEB, '--trace', trace, '--json', '--noise', '0']);
    t.is(quiet.code, 0, quiet.err);
    t.is(JSON.parse(quiet.out).model.noise, 0);
    const bad = await cli(['--policy', WEB, '--trace', trace, '--noise', '-1']);
    t.is(bad.code, 2);
    t.regex(bad.err, /--noise must be a number >= 0 \(found "-1"\)/);
  });
});
