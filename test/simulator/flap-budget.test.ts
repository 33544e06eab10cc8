// The simulator runs the flap budget through the same decide() and pool memory as the loop: a
// load that flips between busy and idle every minute is damped to the budget.
import test from 'ava';
import { busyRule, idleRule, makePolicy } from '../../src/decision/test-helpers.ts';
import { simulate } from '../../src/simulator/simulate.ts';
import type { ScaleDecision } from '../../src/domain/types.ts';

const MIN = 60_000;
const policy = (flapBudget?: { changes: number; windowMs: number }) => makePolicy({
  rules: [busyRule(), idleRule()],
  scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
  scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
  warmupMs: 0,
  ...(flapBudget ? { flapBudget } : {}),
});

// One hour: 60 s at 300 rps (6 guests' worth at 50 rps each), 60 s at 10 rps, and so on.
const trace = Float64Array.from({ length: 3600 }, (_, s) => (Math.floor(s / 60) % 2 === 0 ? 300 : 10));
const run = (flapBudget?: { changes: number; windowMs: number }) =>
  simulate({ policy: policy(flapBudget), trace, stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 10, healthDelaySeconds: 2, drainSeconds: 5, noise: 0, seed: 1 });

/** The most guests started plus stopped in any window of `windowMs` (windows start at an action). */
function busiestWindow(actions: readonly ScaleDecision[], windowMs: number): number {
  let most = 0;
  for (const a of actions) {
    let n = 0;
    for (const b of actions) if (b.at >= a.at && b.at - a.at < windowMs) n += Math.abs(b.to - b.from);
    most = Math.max(most, n);
  }
  return most;
}

const churn = (actions: readonly ScaleDecision[]) => actions.reduce((n, a) => n + Math.abs(a.to - a.from), 0);

test('a flapping load is damped to the budget: never more than 6 guests started or stopped in 10 minutes', (t) => {
  const free = run();
  const damped = run({ changes: 6, windowMs: 10 * MIN });
  t.log(`free: ${free.actions.length} actions, ${churn(free.actions)} guests started+stopped; budget 6/10m: ${damped.actions.length} actions, ${churn(damped.actions)}`);
  // Without a budget the pool follows the flapping load far past 6 changes per 10 minutes.
  t.true(busiestWindow(free.actions, 10 * MIN) > 6, `free run: ${busiestWindow(free.actions, 10 * MIN)}`);
  t.true(busiestWindow(damped.actions, 10 * MIN) <= 6, `damped run: ${busiestWindow(damped.actions, 10 * MIN)}`);
  // At most 6 per started window over the hour's 6 windows (plus the first), far below the free run.
  t.true(churn(damped.actions) <= 6 * 7, `damped churn ${churn(damped.actions)}`);
  t.true(churn(damped.actions) < churn(free.actions), `damped ${churn(damped.actions)} vs free ${churn(free.actions)}`);
});

