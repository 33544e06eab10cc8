// The OneFlow elasticity baseline against what its project defines (OpenNebula/one): there is
// no upstream test suite for elasticity, so the cases restate the code, cited per case:
//  - calculate_new_cardinality and scale_attributes? in src/flow/lib/models/role.rb at
//    bd0d225b7fa6f3e12bb7eebe473df85437f315a9 (moved unchanged to vmrole.rb, f847cf2e9a78da302cd0344505f93eadc43a6d28);
//  - the attribute mean of src/flow/lib/grammar.treetop (RUNNING VMs only, rounded to 2 decimals,
//    false when no VM reports the attribute);
//  - ServiceAutoScaler.rb (only RUNNING services are evaluated, every :autoscaler_interval, 90 s
//    in oneflow-server.conf) and LifeCycleManager.rb (COOLDOWN after the scale-up's VMs run,
//    :default_cooldown 300 s).
//
// Not expressible here: evaluations skipped while a service scales or cools down keep their
// count of true evaluations in OneFlow (true_evals), so after a cooldown one true evaluation can
// trigger again; here every tick is an evaluation, and the expression must have held for the
// last period_number ticks, including those of the cooldown. Expressions combining several
// attributes (&&, ||) are not used by the baseline.
import test from 'ava';
import { makePolicy } from '../../src/decision/test-helpers.ts';
import { BASELINE_STRATEGIES, oneFlowPolicy } from '../../src/simulator/baselines/index.ts';
import { oneFlowCardinality, oneFlowElasticity, oneFlowMean, type OneFlowAdjustment, type OneFlowRuleWithBounds } from '../../src/simulator/baselines/oneflow.ts';
import { DEFAULT_START, simulate } from '../../src/simulator/simulate.ts';

// calculate_new_cardinality(policy) with min_vms 2, max_vms 10.
const cardinality: [string, OneFlowAdjustment, number, number][] = [
  ['CHANGE adds adjust', { type: 'CHANGE', adjust: 2 }, 4, 6],
  ['CHANGE removes with a negative adjust', { type: 'CHANGE', adjust: -1 }, 4, 3],
  ['CHANGE up stops at max_vms', { type: 'CHANGE', adjust: 4 }, 8, 10],
  ['CHANGE down stops at min_vms', { type: 'CHANGE', adjust: -4 }, 4, 2],
  ['CHANGE up from above max_vms stays where it is (max is max(cardinality, max_vms))', { type: 'CHANGE', adjust: 1 }, 12, 12],
  ['CARDINALITY sets the size', { type: 'CARDINALITY', adjust: 7 }, 3, 7],
  ['CARDINALITY up is capped at max_vms', { type: 'CARDINALITY', adjust: 15 }, 3, 10],
  ['PERCENTAGE_CHANGE 50% of 6 is 3', { type: 'PERCENTAGE_CHANGE', adjust: 50 }, 6, 9],
  ['PERCENTAGE_CHANGE truncates: 30% of 5 (1.5) is 1', { type: 'PERCENTAGE_CHANGE', adjust: 30 }, 5, 6],
  ['PERCENTAGE_CHANGE below 1 moves 1: 10% of 4', { type: 'PERCENTAGE_CHANGE', adjust: 10 }, 4, 5],
  ['PERCENTAGE_CHANGE moves at least min_adjust_step', { type: 'PERCENTAGE_CHANGE', adjust: 10, minAdjustStep: 3 }, 4, 7],
  ['PERCENTAGE_CHANGE down: -50% of 8 is -4', { type: 'PERCENTAGE_CHANGE', adjust: -50 }, 8, 4],
  ['PERCENTAGE_CHANGE down with min_adjust_step, stopped at min_vms', { type: 'PERCENTAGE_CHANGE', adjust: -10, minAdjustStep: 5 }, 6, 2],
];
for (const [name, adj, from, to] of cardinality) {
  test(`OneFlow calculate_new_cardinality: ${name}`, (t) => {
    t.is(oneFlowCardinality(adj, from, 2, 10), to);
  });
}

test("OneFlow's attribute mean is rounded to 2 decimals before it is compared", (t) => {
  t.is(oneFlowMean(70.004), 70);
  t.is(oneFlowMean(70.006), 70.01);
  const rule: OneFlowRuleWithBounds = { name: 'up', strategy: 'oneflow-elasticity', metric: 'cpu', aggregate: 'mean', for: 1, op: '>', value: 70, adjustment: { type: 'CHANGE', adjust: 1 }, minVms: 2, maxVms: 10 };
  const input = (v: number | null) => ({ series: [v], current: 3, ready: 3, eligible: 3, coming: 0 });
  t.is(oneFlowElasticity({ config: rule, ...input(70.004) }), undefined); // 70 > 70 is false
  t.is(oneFlowElasticity({ config: rule, ...input(70.006) })?.desired, 4);
  t.is(oneFlowElasticity({ config: rule, ...input(null) }), undefined); // no VM reports it: false
});

test('OneFlow triggers once the expression was true period_number evaluations in a row', (t) => {
  const rule: OneFlowRuleWithBounds = { name: 'up', strategy: 'oneflow-elasticity', metric: 'cpu', aggregate: 'mean', for: 3, op: '>', value: 70, adjustment: { type: 'CHANGE', adjust: 1 }, minVms: 2, maxVms: 10 };
  const run = (series: (number | null)[]) => oneFlowElasticity({ config: rule, series, current: 3, ready: 3, eligible: 3, coming: 0 })?.desired;
  t.is(run([80, 80, 80]), 4);
  t.is(run([80, 60, 80]), undefined); // a false evaluation resets the count
  t.is(run([80, 80]), undefined);
});

const like = makePolicy({ min: 2, max: 8 });
const flat = (seconds: number, guests: number, cpu: number) => new Float64Array(seconds).fill((guests * 50 * cpu) / 100);

test('OneFlow baseline: evaluated every 90 s, 3 true evaluations, +1, then SCALING until the VM runs and a 300 s COOLDOWN', (t) => {
  const r = simulate({ policy: oneFlowPolicy(like), trace: flat(2000, 8, 100), stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, initialGuests: 2, strategies: BASELINE_STRATEGIES });
  const outs = r.actions.map((a) => [(a.at - DEFAULT_START) / 1000, a.to - a.from]);
  // Evaluations at 90, 180, 270 s: the third triggers. The VM runs at 305 s, the cooldown
  // ends at 605 s, and the next pass is at 630 s.
  t.deepEqual(outs.slice(0, 3), [[270, 1], [630, 1], [990, 1]]);
});

test('OneFlow baseline: a scale-down waits for the 300 s cooldown of a scale-up before it', (t) => {
  const trace = Float64Array.from([...flat(300, 2, 100), ...flat(1500, 1, 10)]);
  const r = simulate({ policy: oneFlowPolicy(like), trace, stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, initialGuests: 2, strategies: BASELINE_STRATEGIES });
  const acts = r.actions.map((a) => [(a.at - DEFAULT_START) / 1000, a.action]);
  t.deepEqual(acts[0], [270, 'scale-out']);
  // Up at 270, running at 305, cooldown until 605: the scale-down comes at the next pass, 630 s.
  t.deepEqual(acts[1], [630, 'scale-in']);
});
