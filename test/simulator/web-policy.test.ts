// The shipped example policy (policies/web.yaml) run through the simulator: its rules must agree
// with each other, whatever the guest's real capacity, and the simulator must run it through the
// real loader and decision core.
import test from 'ava';
import path from 'node:path';
import { CORE_STRATEGIES, withStrategies } from '../../src/decision/strategies/index.ts';
import type { Policy, Rule } from '../../src/domain/policy.ts';
import { loadPolicyFile } from '../../src/policy/load-policy.ts';
import { simulate } from '../../src/simulator/simulate.ts';
import { rampTrace } from '../../src/simulator/synthetic.ts';

const web = loadPolicyFile(path.join(process.cwd(), 'policies', 'web.yaml'), { templatesDir: path.join(process.cwd(), 'templates'), checkFiles: false });

for (const capacity of [40, 50, 60, 70, 90]) {
  test(`web.yaml's rules do not fight at ${capacity} rps per guest: a rising ramp only ever scales out`, (t) => {
    // 6 h: flat, then a steady rise to 8 guests' worth over 4 h, then flat; no noise anywhere.
    const trace = rampTrace({ seconds: 6 * 3600, from: 0.3 * capacity, to: 8 * capacity, start: 3600, end: 5 * 3600, stepSeconds: 5 }).values;
    const r = simulate({ policy: web, trace, stepSeconds: 5, capacityPerGuest: capacity, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, seed: 1 });
    const ins = r.actions.filter((a) => a.action === 'scale-in');
    t.deepEqual(ins.map((a) => a.reason), []);
    t.is(r.actions.at(-1)?.to, 8);
    t.true(r.actions.length <= 6, `${r.actions.length} actions`);
  });
}

test('the simulator decides through the real decision core with the strategy registry it is given', (t) => {
  // A registry built the way the baselines build theirs: if the simulator had its own copy of
  // the core, or ignored the registry, this rule would be unknown to it.
  const strategies = withStrategies(CORE_STRATEGIES, { 'test-fixed-size': ({ config }: { config: { want: number } }) => ({ desired: config.want, reason: `fixed ${config.want}` }) });
  const rule = { name: 'fixed', strategy: 'test-fixed-size', metric: 'cpu', aggregate: 'mean', for: 1, want: 5 } as unknown as Rule;
  const policy: Policy = { ...web, rules: [rule] };
  const run = () => simulate({ policy, trace: new Float64Array(120).fill(10), stepSeconds: 5, capacityPerGuest: 60, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, strategies });
  const r = run();
  t.is(r.actions[0]?.to, 5);
  t.regex(r.actions[0]!.reason, /fixed 5/);
  t.is(r.supply[r.supply.length - 1], 5);
  // Without the registry the core does not know the strategy.
  t.throws(() => simulate({ policy, trace: new Float64Array(120).fill(10), stepSeconds: 5, capacityPerGuest: 60, bootSeconds: 30, healthDelaySeconds: 5, noise: 0 }), { message: /unknown strategy "test-fixed-size"/ });
});
