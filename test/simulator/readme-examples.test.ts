// The README's simulator examples run as written in a checkout that has no ../shared/ beside
// it: the sample trace they use ships in traces/.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSimulate } from '../../src/simulator/simulate-command.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const examples = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8')
  .split('\n')
  .map((l) => /^\s+npx gridhost simulate (.*--trace .*)$/.exec(l)?.[1])
  .filter((x): x is string => x !== undefined);

test('the README has simulator examples, each on the shipped sample trace', (t) => {
  t.true(examples.length >= 2);
  for (const e of examples) t.regex(e, /--trace traces\/nasa-1995-07-05\.csv/);
});

for (const example of examples) {
  test(`README example runs without ../shared: gridhost simulate ${example}`, async (t) => {
    // A copy holding only what a checkout has: policies/, templates/, traces/.
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-readme-'));
    t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));
    for (const d of ['policies', 'templates', 'traces']) fs.cpSync(path.join(REPO, d), path.join(cwd, d), { recursive: true });
    const out: string[] = [];
    const err: string[] = [];
    const code = await runSimulate(example.split(/\s+/), { out: (s) => out.push(s), err: (s) => err.push(s) }, { cwd, env: {} });
    t.is(code, 0, err.join('\n'));
    const text = out.join('\n');
    if (example.includes('--json')) t.is(JSON.parse(text).trace.steps, 17_280);
    else t.regex(text, /17280 steps of 5 s \(1\.00 days\)/);
    const plot = /--plot (\S+)/.exec(example)?.[1];
    if (plot) t.regex(fs.readFileSync(path.join(cwd, plot), 'utf8'), /^<svg/);
  });
}
