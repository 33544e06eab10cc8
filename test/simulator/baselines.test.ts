// What every baseline shares, and the AWS and CloudStack baselines against their published
// rules (their projects publish no test suites to restate; the HPA, Nomad and OneFlow baselines
// are tested against their projects' own cases in baselines-hpa/-nomad/-oneflow.test.ts).
import test from 'ava';
import { CORE_STRATEGIES } from '../../src/decision/strategies/index.ts';
import { makePolicy } from '../../src/decision/test-helpers.ts';
import type { Policy } from '../../src/domain/policy.ts';
import { BASELINES, BASELINE_STRATEGIES, awsSimplePolicy, awsTargetTrackingPolicy, cloudStackPolicy } from '../../src/simulator/baselines/index.ts';
import { awsTargetTracking, type AwsTargetTrackingRule } from '../../src/simulator/baselines/aws-target-tracking.ts';
import { cloudStackAutoScale, type CloudStackRule } from '../../src/simulator/baselines/cloudstack.ts';
import { DEFAULT_START, simulate } from '../../src/simulator/simulate.ts';
import { decide } from '../../src/decision/decide.ts';
import { guest, makeView, NOW } from '../../src/decision/test-helpers.ts';
import { desiredSize, type Guest, type PoolSample } from '../../src/domain/types.ts';

const like = makePolicy();
const CAP = 50; // rps per guest at 100% cpu

/** Constant load giving `cpu` % on each of `guests` guests. */
function flat(seconds: number, guests: number, cpu: number): Float64Array {
  return new Float64Array(seconds).fill((guests * CAP * cpu) / 100);
}

function run(policy: Policy, trace: ArrayLike<number>, initialGuests: number, bootSeconds = 30) {
  const r = simulate({ policy, trace, stepSeconds: 1, capacityPerGuest: CAP, bootSeconds, healthDelaySeconds: 5, noise: 0, seed: 1, initialGuests, strategies: BASELINE_STRATEGIES });
  return r.actions.map((d) => ({ at: (d.at - DEFAULT_START) / 1000, from: d.from, to: d.to, action: d.action, reason: d.reason }));
}

test('the baselines registry has their strategies and the core ones, and the core registry stays as it was', (t) => {
  for (const name of ['k8s-hpa', 'aws-target-tracking', 'nomad-threshold', 'nomad-target-value', 'cloudstack-autoscale', 'oneflow-elasticity', 'threshold', 'target-tracking']) {
    t.is(typeof BASELINE_STRATEGIES[name], 'function', name);
  }
  t.deepEqual(Object.keys(CORE_STRATEGIES).sort(), ['target-tracking', 'threshold']);
  t.deepEqual(
    BASELINES.map((b) => b.name),
    ['k8s-hpa', 'aws-simple', 'aws-target-tracking', 'nomad-threshold', 'nomad-target-value', 'cloudstack', 'oneflow'],
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

test('a baseline holds while guests boot only where its peer does', (t) => {
  const holds = Object.fromEntries(BASELINES.map((b) => {
    const p = b.policy(like);
    return [b.name, p.peer?.ignoreInFlight === true ? 'decides regardless' : p.scaleOut.whileBooting === 'hold' ? 'holds' : 'adds to them'];
  }));
  t.deepEqual(holds, {
    'k8s-hpa': 'decides regardless',
    'aws-simple': 'holds',
    'aws-target-tracking': 'adds to them',
    'nomad-threshold': 'decides regardless',
    'nomad-target-value': 'decides regardless',
    cloudstack: 'decides regardless',
    oneflow: 'holds',
  });
});

// AWS simple scaling: alarm after 3 consecutive 60 s periods, +1, then the group's 300 s
// cooldown, which starts when the scaling activity has completed (the instance is in service).
test('AWS simple scaling adds one guest per alarm and waits for the activity and the 300 s cooldown', (t) => {
  const outs = run(awsSimplePolicy(like), flat(2400, 8, 100), 2).filter((x) => x.to > x.from);
  t.true(outs.length >= 3);
  t.is(outs[0]!.at, 180); // third 60 s period
  for (const x of outs) t.is(x.to - x.from, 1);
  // Decided at 180 s, in service at 215 s, cooldown over at 515 s: the next alarm period ends at 540 s.
  for (let i = 1; i < outs.length; i++) t.is(outs[i]!.at - outs[i - 1]!.at, 360);
});

test('AWS simple scaling needs 3 consecutive periods: 2 high periods then a normal one do nothing', (t) => {
  const trace = Float64Array.from([...flat(120, 2, 100), ...flat(60, 2, 50), ...flat(120, 2, 100), ...flat(60, 2, 50)]);
  t.deepEqual(run(awsSimplePolicy(like), trace, 2), []);
});

test("AWS simple scaling's cooldown is the group's: a scale-out right after a scale-in waits for it", (t) => {
  // Idle for 4 min (scale-in at 180 s, done at 190 s), then busy: the alarm fires at 360 s but
  // the cooldown from 190 s runs to 490 s, so the scale-out comes with the period ending at 540 s.
  const trace = Float64Array.from([...flat(240, 4, 10), ...flat(900, 8, 100)]);
  const acts = run(awsSimplePolicy(like), trace, 4);
  t.deepEqual(acts.slice(0, 2).map((a) => [a.at, a.action]), [[180, 'scale-in'], [540, 'scale-out']]);
});

// AWS target tracking: proportional scale-out after 3 periods, scale-in only after 15 low
// periods, instances warming up (300 s) count as capacity and block scale-in.
test('AWS target tracking scales out proportionally in one action: 4 at 100% / 70% -> 6', (t) => {
  const a = run(awsTargetTrackingPolicy(like), flat(300, 4, 100), 4);
  t.is(a[0]?.at, 180);
  t.is(a[0]?.from, 4);
  t.is(a[0]?.to, 6);
});

test('AWS target tracking counts instances warming up as capacity: it adds only what they do not cover, and scale-in waits for them', (t) => {
  const policy = awsTargetTrackingPolicy(like);
  const warm = (n: number) => Array.from({ length: n }, (_, i) => guest(`w${i}`, 'healthy'));
  const warming = (n: number) => Array.from({ length: n }, (_, i) => guest(`n${i}`, 'healthy', NOW - 60_000)); // 60 s of 300
  const periods = (ids: string[], cpu: number, n: number): PoolSample[] =>
    Array.from({ length: n }, (_, k) => ({ at: NOW - (n - 1 - k) * 60_000, guests: Object.fromEntries(ids.map((id) => [id, { cpu }])) }));
  const decideFor = (guests: Guest[], cpu: number, n: number) =>
    decide(policy, makeView({ guests, samples: periods(guests.map((g) => g.id), cpu, n) }, policy), NOW, BASELINE_STRATEGIES).decision;
  // 4 warmed-up instances at 100%: ceil(4 x 100 / 70) = 6, which the 2 warming up already make.
  const covered = decideFor([...warm(4), ...warming(2)], 100, 3);
  t.is(covered.action, 'hold');
  t.regex(covered.reason, /^capacity coming: 2 guests still booting or warming up make 6 >= 6/);
  // With only 1 warming up it adds the one missing.
  const short = decideFor([...warm(4), ...warming(1)], 100, 3);
  t.is(desiredSize(short), 6);
  // 15 low periods, but an instance is warming up: no scale-in.
  const low = decideFor([...warm(6), ...warming(1)], 20, 15);
  t.is(low.action, 'hold');
  t.regex(low.reason, /^scale-in waits for 1 guest still booting or warming up/);
});

test('AWS target tracking scales in gradually: only after 15 periods below 90% of target', (t) => {
  const a = run(awsTargetTrackingPolicy(like), flat(1800, 6, 30), 6);
  t.is(a[0]?.at, 15 * 60);
  t.true(a[0]!.to < 6);
});

test('AWS target tracking low alarm fires only below 90% of target (63% for a 70% target)', (t) => {
  const low: AwsTargetTrackingRule = { name: 'low', strategy: 'aws-target-tracking', metric: 'cpu', aggregate: 'mean', alarm: 'low', target: 70, inThreshold: 0.9, for: 15 };
  const input = (series: number[]) => ({ series, current: 20, ready: 20, eligible: 20, coming: 0 });
  t.is(awsTargetTracking({ config: low, ...input(new Array(15).fill(64)) }), undefined);
  t.is(awsTargetTracking({ config: low, ...input(new Array(15).fill(62)) })?.desired, 18); // ceil(20 x 62/70)
  t.is(awsTargetTracking({ config: low, ...input([...new Array(14).fill(50), 64]) }), undefined);
});

// CloudStack AutoScale: all conditions held for the duration, +-1 VM, quiet time 300 s from
// when the action is initiated, for any action.
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
  const input = (series: number[]) => ({ series, current: 2, ready: 2, eligible: 2, coming: 0 });
  t.is(cloudStackAutoScale({ config: csRule, ...input([80, 90]) })?.desired, 3);
  t.is(cloudStackAutoScale({ config: csRule, ...input([80, 60]) }), undefined); // GT 70 fails once
  t.is(cloudStackAutoScale({ config: csRule, ...input([80, 97]) }), undefined); // LE 95 fails
  t.is(cloudStackAutoScale({ config: { ...csRule, action: 'scale-down' }, ...input([80, 90]) })?.desired, 1);
});

test('CloudStack adds one VM per action, its quiet time counted from when the action was initiated', (t) => {
  const outs = run(cloudStackPolicy(like), flat(1500, 8, 100), 2).filter((x) => x.to > x.from);
  t.true(outs.length >= 2);
  t.is(outs[0]!.at, 60); // duration 60 s = 2 polls of 30 s
  for (const x of outs) t.is(x.to - x.from, 1);
  for (let i = 1; i < outs.length; i++) t.is(outs[i]!.at - outs[i - 1]!.at, 300);
});
