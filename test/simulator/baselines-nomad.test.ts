// The Nomad Autoscaler baselines against their project's own plugin tests, restated as tables
// (hashicorp/nomad-autoscaler at ede4e617db9b03305c70d053ef57ad098e9a2a73):
//  - plugins/builtin/strategy/threshold/plugin/plugin_test.go, TestThresholdPlugin;
//  - plugins/builtin/strategy/target-value/plugin/plugin_test.go, TestStrategyPlugin_Run and
//    TestStrategyPlugin_calculateDirection.
// A case's metrics are the datapoints of its query window (the rule's series), its count the
// current size; "no action" is no opinion.
//
// Not expressible here, so not restated: the config parsing cases (missing bounds, "not-a-number"
// bounds, missing or several actions, invalid trigger or target, SetConfig and PluginInfo): the
// baselines build their config as typed data, not from strings.
import test from 'ava';
import { makePolicy } from '../../src/decision/test-helpers.ts';
import {
  BASELINE_STRATEGIES,
  nomadTargetValuePolicy,
  nomadThresholdPolicy,
} from '../../src/simulator/baselines/index.ts';
import { nomadDirection, nomadTargetValue, nomadThreshold, type NomadTargetValueRule, type NomadThresholdAction, type NomadThresholdRule } from '../../src/simulator/baselines/nomad.ts';
import { DEFAULT_START, simulate } from '../../src/simulator/simulate.ts';

const tier = (o: { lower?: number; upper?: number; action: NomadThresholdAction; trigger?: number }): NomadThresholdRule => ({
  name: 't',
  strategy: 'nomad-threshold',
  metric: 'cpu',
  aggregate: 'mean',
  for: 6,
  action: o.action,
  withinBoundsTrigger: o.trigger ?? 5,
  ...(o.lower !== undefined ? { lowerBound: o.lower } : {}),
  ...(o.upper !== undefined ? { upperBound: o.upper } : {}),
});
const input = (series: number[], count: number) => ({ series, current: count, ready: count, eligible: count, coming: 0 });

const thresholdCases: { name: string; count: number; metrics: number[]; rule: NomadThresholdRule; expected?: number }[] = [
  { name: 'lower_bound is inclusive', count: 1, metrics: [10, 10, 10, 10, 10], rule: tier({ lower: 10, action: { delta: -1 } }), expected: 0 },
  { name: 'upper_bound is exclusive', count: 1, metrics: [10, 10, 10, 10, 10], rule: tier({ upper: 10, action: { delta: 1 } }) },
  { name: 'lower_bound is inclusive and upper_bound is exclusive/no action', count: 1, metrics: [10, 10, 20, 20, 20], rule: tier({ lower: 10, upper: 20, action: { delta: 1 }, trigger: 3 }) },
  { name: 'lower_bound is inclusive and upper_bound is exclusive/scale', count: 1, metrics: [10, 10, 20, 20, 20], rule: tier({ lower: 10, upper: 20, action: { delta: 1 }, trigger: 2 }), expected: 2 },
  { name: 'delta scale up', count: 1, metrics: [10, 10, 10, 10, 10, 10], rule: tier({ lower: 5, upper: 20, action: { delta: 1 } }), expected: 2 },
  { name: 'delta scale down', count: 1, metrics: [10, 10, 10, 10, 10, 10], rule: tier({ lower: 5, upper: 20, action: { delta: -1 } }), expected: 0 },
  { name: 'delta scale down, no negative', count: 0, metrics: [10, 10, 10, 10, 10, 10], rule: tier({ lower: 5, upper: 20, action: { delta: -1 } }) },
  { name: 'percentage scale up', count: 10, metrics: [10, 10, 10, 10, 10, 10], rule: tier({ lower: 5, upper: 20, action: { percentage: 30 } }), expected: 13 },
  { name: 'percentage scale down', count: 10, metrics: [10, 10, 10, 10, 10, 10], rule: tier({ lower: 5, upper: 20, action: { percentage: -30 } }), expected: 7 },
  { name: 'percentage scale none', count: 10, metrics: [10, 10, 10, 10, 10, 10], rule: tier({ lower: 5, upper: 20, action: { percentage: 0 } }) },
  { name: 'value scale up', count: 1, metrics: [10, 10, 10, 10, 10, 10], rule: tier({ lower: 5, upper: 20, action: { value: 10 } }), expected: 10 },
  { name: 'value scale down', count: 20, metrics: [10, 10, 10, 10, 10, 10], rule: tier({ lower: 5, upper: 20, action: { value: 10 } }), expected: 10 },
  { name: 'percentage scale none (value equal to count)', count: 10, metrics: [10, 10, 10, 10, 10, 10], rule: tier({ lower: 5, upper: 20, action: { value: 10 } }) },
  { name: 'not enough metrics within bounds', count: 1, metrics: [10, 0, 0, 0, 0, 0], rule: tier({ lower: 5, upper: 20, action: { delta: 1 } }) },
  { name: 'custom trigger value', count: 1, metrics: [10, 0, 0, 0, 0, 0], rule: tier({ lower: 5, upper: 20, action: { delta: 1 }, trigger: 1 }), expected: 2 },
];

for (const c of thresholdCases) {
  test(`Nomad threshold plugin: ${c.name}`, (t) => {
    t.is(nomadThreshold({ config: c.rule, ...input(c.metrics, c.count) })?.desired, c.expected);
  });
}

test('Nomad threshold plugin: no metrics is no action', (t) => {
  t.is(nomadThreshold({ config: tier({ lower: 5, action: { delta: 1 } }), ...input([], 1) }), undefined);
});

const tv = (o: Partial<NomadTargetValueRule> & { target: number }): NomadTargetValueRule => ({ name: 'tv', strategy: 'nomad-target-value', metric: 'cpu', aggregate: 'mean', for: 1, threshold: 0.01, ...o });

const targetCases: { name: string; count: number; metrics: number[]; rule: NomadTargetValueRule; expected?: number; reason?: string }[] = [
  { name: 'empty metrics', count: 2, metrics: [], rule: tv({ target: 13 }) },
  { name: 'factor equals 1 with non-zero count', count: 2, metrics: [13], rule: tv({ target: 13 }) },
  { name: 'factor greater than 1 with non-zero count', count: 2, metrics: [26], rule: tv({ target: 13 }), expected: 4, reason: 'scaling up because factor is 2.000000' },
  { name: 'scale from 0 with non-zero target', count: 0, metrics: [20], rule: tv({ target: 10 }), expected: 2, reason: 'scaling up because factor is 2.000000' },
  { name: 'no scaling based on small target/metric difference', count: 1, metrics: [9], rule: tv({ target: 10 }) },
  { name: 'scale from 0 with 0 target eg. build queue with 0 running build agents', count: 0, metrics: [1], rule: tv({ target: 10 }), expected: 1, reason: 'scaling up because factor is 0.100000' },
  { name: 'scale to 0 with 0 target eg. idle build agents', count: 5, metrics: [0], rule: tv({ target: 0 }), expected: 0, reason: 'scaling down because factor is 0.000000' },
  { name: "don't scale when the factor change is small", count: 8, metrics: [5.00001], rule: tv({ target: 5 }) },
  { name: 'scale up on small changes if threshold is small', count: 8, metrics: [5.00001], rule: tv({ target: 5, threshold: 0.000001 }), expected: 9, reason: 'scaling up because factor is 1.000002' },
  { name: 'properly handle multiple input', count: 2, metrics: [13, 14, 15, 16], rule: tv({ target: 16 }) },
  { name: 'scale up limited to max_scale_up', count: 1, metrics: [210], rule: tv({ target: 50, maxScaleUp: 2 }), expected: 3, reason: 'scaling up because factor is 4.200000' },
  { name: 'scale down limited to max_scale_down', count: 5, metrics: [10], rule: tv({ target: 210, maxScaleDown: 1 }), expected: 4, reason: 'scaling down because factor is 0.047619' },
];

for (const c of targetCases) {
  test(`Nomad target-value plugin: ${c.name}`, (t) => {
    const o = nomadTargetValue({ config: c.rule, ...input(c.metrics, c.count) });
    t.is(o?.desired, c.expected);
    if (c.reason !== undefined) t.true(o!.reason.startsWith(c.reason), o!.reason);
  });
}

// TestStrategyPlugin_calculateDirection: count, factor, threshold -> direction (up: more, down: fewer).
const directions: [number, number, number, 'up' | 'none' | 'down'][] = [
  [0, 1, 0, 'up'],
  [5, 1, 0, 'none'],
  [4, 0.5, 0, 'down'],
  [5, 2, 0, 'up'],
  [5, 1.0001, 0.01, 'none'],
  [5, 1.02, 0.01, 'up'],
  [5, 0.99, 0.01, 'none'],
  [5, 0.98, 0.01, 'down'],
];
for (const [count, factor, threshold, dir] of directions) {
  test(`Nomad target-value calculateDirection: count ${count}, factor ${factor}, threshold ${threshold} -> ${dir}`, (t) => {
    t.is(nomadDirection(count, factor, threshold), dir);
  });
}

// The policy handler: evaluation every 10 s, cooldown 5 m from when the action was submitted,
// no hold while allocations start.
const like = makePolicy({ min: 2, max: 8 });
const flat = (seconds: number, guests: number, cpu: number) => new Float64Array(seconds).fill((guests * 50 * cpu) / 100);

test('Nomad threshold baseline: the cooldown starts when the scale call returns, not when the new guest serves', (t) => {
  const r = simulate({ policy: nomadThresholdPolicy(like), trace: flat(1500, 8, 100), stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, initialGuests: 2, strategies: BASELINE_STRATEGIES });
  const outs = r.actions.filter((a) => a.action === 'scale-out').map((a) => (a.at - DEFAULT_START) / 1000);
  t.true(outs.length >= 3);
  t.is(outs[0], 60); // the 1 m query window holds its 6 datapoints of 10 s
  for (let i = 1; i < outs.length; i++) t.is(outs[i]! - outs[i - 1]!, 300);
});

test('Nomad target-value baseline: sizes in one step from the latest value', (t) => {
  // 2 guests at 100% of a 70% target: factor 1.43 -> ceil(2 x 1.43) = 3 at the first evaluation;
  // 3 guests then sit at 66.7%: factor 0.95 asks for ceil(3 x 0.95) = 3, no action.
  const r = simulate({ policy: nomadTargetValuePolicy(like), trace: flat(900, 2, 100), stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, initialGuests: 2, strategies: BASELINE_STRATEGIES });
  t.deepEqual(r.actions.map((a) => [(a.at - DEFAULT_START) / 1000, a.from, a.to]), [[10, 2, 3]]);
});

test('Nomad target-value baseline: after any action the policy waits its 5 m cooldown, in either direction', (t) => {
  // Busy: 2 -> 3 at 10 s; then idle from 60 s: the scale-in waits until 310 s.
  const trace = Float64Array.from([...flat(60, 2, 100), ...flat(840, 1, 20)]);
  const r = simulate({ policy: nomadTargetValuePolicy(like), trace, stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, initialGuests: 2, strategies: BASELINE_STRATEGIES });
  t.deepEqual(r.actions.map((a) => [(a.at - DEFAULT_START) / 1000, a.action]).slice(0, 2), [[10, 'scale-out'], [310, 'scale-in']]);
});
