import test from 'ava';
import { strategies } from '../../src/decision/strategies/index.ts';
import { makePolicy } from '../../src/decision/test-helpers.ts';
import type { Policy } from '../../src/domain/policy.ts';
import {
  BASELINES,
  awsSimplePolicy,
  awsTargetTrackingPolicy,
  cloudStackPolicy,
  hpaPolicy,
  nomadThresholdPolicy,
} from '../../src/simulator/baselines/index.ts';
import { awsTargetTracking, type AwsTargetTrackingRule } from '../../src/simulator/baselines/aws-target-tracking.ts';
import { cloudStackAutoScale, type CloudStackRule } from '../../src/simulator/baselines/cloudstack.ts';
import { nomadThreshold, type NomadThresholdRule } from '../../src/simulator/baselines/nomad-threshold.ts';
import { DEFAULT_START, simulate } from '../../src/simulator/simulate.ts';

const like = makePolicy();
const CAP = 50; // rps per guest at 100% cpu

/** Constant load giving `cpu` % on each of `guests` guests. */
function flat(seconds: number, guests: number, cpu: number): Float64Array {
  return new Float64Array(seconds).fill((guests * CAP * cpu) / 100);
}

function run(policy: Policy, trace: ArrayLike<number>, initialGuests: number, bootSeconds = 30) {
  const r = simulate({ policy, trace, stepSeconds: 1, capacityPerGuest: CAP, bootSeconds, healthDelaySeconds: 5, noise: 0, seed: 1, initialGuests });
  return r.actions.map((d) => ({ at: (d.at - DEFAULT_START) / 1000, from: d.from, to: d.to, reason: d.reason }));
}

test('importing the baselines registers their strategies without replacing the core ones', (t) => {
  for (const name of ['aws-target-tracking', 'nomad-threshold', 'cloudstack-autoscale', 'threshold', 'target-tracking']) {
    t.is(typeof strategies[name], 'function', name);
  }
  t.deepEqual(
    BASELINES.map((b) => b.name),
    ['k8s-hpa', 'aws-simple', 'aws-target-tracking', 'nomad-threshold', 'cloudstack'],
  );
});

test('every baseline keeps the pool bounds and drops schedules', (t) => {
  for (const b of BASELINES) {
    const p = b.policy(makePolicy({ min: 3, max: 7, schedules: [{ name: 's', cron: '0 9 * * *', timezone: 'UTC', durationMs: 1000, min: 5 }] }));
    t.is(p.min, 3, b.name);
    t.is(p.max, 7, b.name);
    t.deepEqual(p.schedules, [], b.name);
  }
});

// Kubernetes HPA: desired = ceil(current x metric / target), tolerance 0.1.
test('HPA holds while metric/target is inside the tolerance band (75% / 70% = 1.07)', (t) => {
  t.deepEqual(run(hpaPolicy(like), flat(900, 4, 75), 4), []);
  t.deepEqual(run(hpaPolicy(like), flat(900, 4, 65), 4), []); // 0.93
});

test('HPA scales to ceil(current x metric / target) outside the band: 4 x 80/70 -> 5', (t) => {
  const a = run(hpaPolicy(like), flat(60, 4, 80), 4);
  t.is(a[0]?.at, 15); // first sync period
  t.is(a[0]?.to, 5);
});

test('HPA scale-down waits for the 300 s stabilization window after the last higher recommendation', (t) => {
  // 6 guests on target for 10 min, then the load drops to 20%.
  const trace = Float64Array.from([...flat(600, 6, 70), ...flat(900, 6, 20)]);
  const a = run(hpaPolicy(like), trace, 6);
  t.true(a.length > 0);
  const first = a[0]!;
  t.true(first.to < 6);
  // the last tick that still recommended 6 was at 600 s (its load is the mean of 585..600 s)
  t.is(first.at, 600 + 300);
});

// AWS simple scaling: alarm after 3 consecutive 60 s periods, +1, then a 300 s cooldown.
test('AWS simple scaling adds one guest per alarm and ignores the alarm during the 300 s cooldown', (t) => {
  const a = run(awsSimplePolicy(like), flat(1800, 8, 100), 2);
  const outs = a.filter((x) => x.to > x.from);
  t.true(outs.length >= 3);
  t.is(outs[0]!.at, 180); // third 60 s period
  for (const x of outs) t.is(x.to - x.from, 1);
  for (let i = 1; i < outs.length; i++) t.is(outs[i]!.at - outs[i - 1]!.at, 300);
});

test('AWS simple scaling needs 3 consecutive periods: 2 high periods then a normal one do nothing', (t) => {
  const trace = Float64Array.from([...flat(120, 2, 100), ...flat(60, 2, 50), ...flat(120, 2, 100), ...flat(60, 2, 50)]);
  t.deepEqual(run(awsSimplePolicy(like), trace, 2), []);
});

// AWS target tracking: proportional scale-out after 3 periods, scale-in only after 15 low periods.
test('AWS target tracking scales out proportionally in one action: 4 at 100% / 70% -> 6', (t) => {
  const a = run(awsTargetTrackingPolicy(like), flat(300, 4, 100), 4);
  t.is(a[0]?.at, 180);
  t.is(a[0]?.from, 4);
  t.is(a[0]?.to, 6);
});

test('AWS target tracking scales in gradually: only after 15 periods below 90% of target', (t) => {
  const a = run(awsTargetTrackingPolicy(like), flat(1800, 6, 30), 6);
  t.is(a[0]?.at, 15 * 60);
  t.true(a[0]!.to < 6);
});

test('AWS target tracking low alarm fires only below 90% of target (63% for a 70% target)', (t) => {
  const low: AwsTargetTrackingRule = { name: 'low', strategy: 'aws-target-tracking', metric: 'cpu', aggregate: 'mean', alarm: 'low', target: 70, inThreshold: 0.9, for: 15 };
  t.is(awsTargetTracking({ config: low, series: new Array(15).fill(64), current: 20, ready: 20 }), undefined);
  t.is(awsTargetTracking({ config: low, series: new Array(15).fill(62), current: 20, ready: 20 })?.desired, 18); // ceil(20 x 62/70)
  t.is(awsTargetTracking({ config: low, series: [...new Array(14).fill(50), 64], current: 20, ready: 20 }), undefined);
});

// Nomad threshold: within_bounds_trigger 5 of the window, delta 1, cooldown 5 min.
const nomadTier: NomadThresholdRule = { name: 'hi', strategy: 'nomad-threshold', metric: 'cpu', aggregate: 'mean', for: 6, lowerBound: 70, delta: 1, withinBoundsTrigger: 5 };

test('Nomad threshold acts when within_bounds_trigger points of the window are in bounds, consecutive or not', (t) => {
  t.is(nomadThreshold({ config: nomadTier, series: [80, 10, 80, 80, 80, 80], current: 3, ready: 3 })?.desired, 4);
  t.is(nomadThreshold({ config: nomadTier, series: [80, 10, 80, 10, 80, 80], current: 3, ready: 3 }), undefined);
});

test('Nomad threshold bounds are lower-inclusive and upper-exclusive', (t) => {
  t.is(nomadThreshold({ config: nomadTier, series: [70, 70, 70, 70, 70, 70], current: 3, ready: 3 })?.desired, 4);
  const low: NomadThresholdRule = { ...nomadTier, lowerBound: undefined, upperBound: 30, delta: -1 };
  t.is(nomadThreshold({ config: low, series: [30, 30, 30, 30, 30, 30], current: 3, ready: 3 }), undefined);
  t.is(nomadThreshold({ config: low, series: [29, 29, 29, 29, 29, 29], current: 3, ready: 3 })?.desired, 2);
});

test('Nomad threshold waits its 5 min cooldown between actions', (t) => {
  const outs = run(nomadThresholdPolicy(like), flat(1500, 8, 100), 2).filter((x) => x.to > x.from);
  t.true(outs.length >= 2);
  t.is(outs[0]!.at, 60); // the 1 min query window holds 6 points of 10 s: evaluated once it is full
  for (let i = 1; i < outs.length; i++) t.is(outs[i]!.at - outs[i - 1]!.at, 300);
});

// CloudStack AutoScale: all conditions held for the duration, +-1 VM, quiet time 300 s.
const csRule: CloudStackRule = {
  name: 'up',
  strategy: 'cloudstack-autoscale',
  metric: 'cpu',
  aggregate: 'mean',
  for: 2,
  action: 'scale-up',
  conditions: [
    { op: 'GT', threshold: 70 },
    { op: 'LE', threshold: 95 },
  ],
};

test('CloudStack acts only when every condition holds at every poll of the duration', (t) => {
  t.is(cloudStackAutoScale({ config: csRule, series: [80, 90], current: 2, ready: 2 })?.desired, 3);
  t.is(cloudStackAutoScale({ config: csRule, series: [80, 60], current: 2, ready: 2 }), undefined); // GT 70 fails once
  t.is(cloudStackAutoScale({ config: csRule, series: [80, 97], current: 2, ready: 2 }), undefined); // LE 95 fails
  t.is(cloudStackAutoScale({ config: { ...csRule, action: 'scale-down' }, series: [80, 90], current: 2, ready: 2 })?.desired, 1);
});

test('CloudStack adds one VM per action and keeps the 300 s quiet time', (t) => {
  const outs = run(cloudStackPolicy(like), flat(1500, 8, 100), 2).filter((x) => x.to > x.from);
  t.true(outs.length >= 2);
  t.is(outs[0]!.at, 60); // duration 60 s = 2 polls of 30 s
  for (const x of outs) t.is(x.to - x.from, 1);
  for (let i = 1; i < outs.length; i++) t.is(outs[i]!.at - outs[i - 1]!.at, 300);
});
