// Speed work on the decision core must not change a single decision. Over one day of each real
// trace (NASA 1995, Twitter 2021, test/fixtures/traces) and eleven policies (gridhost's default,
// a threshold policy, every baseline), every tick's decision (time, action, sizes, reason and
// inputs, holds included) must hash to what the core made before that work, recorded in
// test/fixtures/decision-equivalence.json (see decision-equivalence-runs.ts for how).
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAll, type RunSummary } from './decision-equivalence-runs.ts';

const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'decision-equivalence.json');

test('every decision over two real traces is the one the decision core made before its speed work', (t) => {
  t.timeout(120_000);
  const expected = (JSON.parse(readFileSync(GOLDEN, 'utf8')) as { runs: Record<string, RunSummary> }).runs;
  const actual = runAll();
  t.deepEqual(Object.keys(actual), Object.keys(expected));
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name]!;
    // The actions first: on a mismatch they show where the runs part.
    t.deepEqual(got.actions, want.actions, name);
    t.is(got.ticks, want.ticks, name);
    t.is(got.decisionsSha256, want.decisionsSha256, `${name}: the same actions, but some tick decided differently (reason or inputs)`);
    t.is(got.guestHours, want.guestHours, name);
    t.is(got.timeshareU, want.timeshareU, name);
  }
});
