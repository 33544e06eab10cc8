// The Kubernetes HPA baseline against its project's own test cases, restated as tables:
//  - the CPU utilization cases of pkg/controller/podautoscaler/replica_calculator_test.go,
//    kubernetes/kubernetes at 5f3bc7cdab9b2544f0389b9a83c88fa15b793b7a;
//  - the default behaviour of pkg/controller/podautoscaler/horizontal_test.go at
//    4e62298c1bd12c8b9b9c7337aa7fd07a8b9c37a8 (TestScalingWithRules "scaleUp with default
//    behavior", "scaleDown with default policy and previous events"; TestNormalizeDesiredReplicas
//    with the 5 minute downscale stabilization window).
// Each case runs through the real decide() with the baseline's policy and registry.
//
// How a case's pods become guests: every pod requests 1 CPU per container there, so a level of
// L millicores per container is L / 10 % utilization, which is a guest's cpu %. A ready,
// running pod is a healthy guest; an unready pod a booting guest; a pending pod a cloning
// guest; a pod within its CPU initialization period without a full metric window (the tests'
// hotCpuCreationTime) a guest still warming up; a pod being deleted a draining guest; a failed
// pod a failed guest; a pod without a level a guest that did not report.
//
// Not expressible here, so not restated:
//  - TestReplicaCalcTolerance, TestReplicaCalcEmptyCPURequest: per-pod CPU requests (the HPA
//    divides the summed usage by the summed requests); a gridhost guest is one CPU.
//    TestReplicaCalcComputedToleranceAlgImplementation varies the requests too; it is restated
//    below with equal requests, which give the same summed utilization (50%).
//  - the custom, object and external metric cases (…CM…, …External…, …Object…): the baseline
//    scales on CPU utilization only.
//  - the rules with user-defined behaviour policies (pods/percent per period, select policy) of
//    TestScalingWithRules: the baseline runs the default behaviour.
import test from 'ava';
import { makePolicy, makeView, NOW } from '../../src/decision/test-helpers.ts';
import { decide } from '../../src/decision/decide.ts';
import { emptyMemory, tick } from '../../src/decision/pool-memory.ts';
import { desiredSize, type Guest, type PoolSample } from '../../src/domain/types.ts';
import { BASELINE_STRATEGIES, hpaPolicy } from '../../src/simulator/baselines/index.ts';
import { DEFAULT_START, simulate } from '../../src/simulator/simulate.ts';

type Readiness = 'True' | 'False';
type Phase = 'Running' | 'Pending' | 'Failed';

interface ReplicaCalcCase {
  name: string;
  currentReplicas: number;
  podReadiness?: Readiness[];
  podPhase?: Phase[];
  /** true: hotCpuCreationTime() (inside the CPU initialization period). */
  hotCpu?: boolean[];
  podDeletion?: boolean[];
  /** Millicores per container, pod by pod (fewer levels than pods: the rest are missing). */
  levels: number[];
  /** Levels reported for pods of other names (superfluous or disjoint metrics). */
  podNames?: string[];
  targetUtilization: number;
  /** undefined: the calculator returns an error, the HPA does not scale. */
  expectedReplicas?: number;
  expectedUtilization?: number;
}

const cases: ReplicaCalcCase[] = [
  { name: 'TestReplicaCalcDisjointResourcesMetrics', currentReplicas: 1, levels: [100], podNames: ['an-older-pod-name'], targetUtilization: 100 },
  { name: 'TestReplicaCalcScaleUp', currentReplicas: 3, levels: [300, 500, 700], targetUtilization: 30, expectedReplicas: 5, expectedUtilization: 50 },
  { name: 'TestReplicaCalcScaleUpUnreadyLessScale', currentReplicas: 3, podReadiness: ['False', 'True', 'True'], levels: [300, 500, 700], targetUtilization: 30, expectedReplicas: 4, expectedUtilization: 60 },
  { name: 'TestReplicaCalcScaleUpHotCpuLessScale', currentReplicas: 3, hotCpu: [true, false, false], levels: [300, 500, 700], targetUtilization: 30, expectedReplicas: 4, expectedUtilization: 60 },
  { name: 'TestReplicaCalcScaleUpUnreadyNoScale', currentReplicas: 3, podReadiness: ['True', 'False', 'False'], levels: [400, 500, 700], targetUtilization: 30, expectedReplicas: 3, expectedUtilization: 40 },
  { name: 'TestReplicaCalcScaleHotCpuNoScale', currentReplicas: 3, podReadiness: ['True', 'False', 'False'], hotCpu: [false, true, true], levels: [400, 500, 700], targetUtilization: 30, expectedReplicas: 3, expectedUtilization: 40 },
  { name: 'TestReplicaCalcScaleUpIgnoresFailedPods', currentReplicas: 2, podReadiness: ['True', 'True', 'False', 'False'], podPhase: ['Running', 'Running', 'Failed', 'Failed'], levels: [500, 700], targetUtilization: 30, expectedReplicas: 4, expectedUtilization: 60 },
  { name: 'TestReplicaCalcScaleUpIgnoresDeletionPods', currentReplicas: 2, podReadiness: ['True', 'True', 'False', 'False'], podPhase: ['Running', 'Running', 'Running', 'Running'], podDeletion: [false, false, true, true], levels: [500, 700], targetUtilization: 30, expectedReplicas: 4, expectedUtilization: 60 },
  { name: 'TestReplicaCalcScaleDown', currentReplicas: 5, levels: [100, 300, 500, 250, 250], targetUtilization: 50, expectedReplicas: 3, expectedUtilization: 28 },
  { name: 'TestReplicaCalcScaleDownIncludeUnreadyPods', currentReplicas: 5, podReadiness: ['True', 'True', 'True', 'False', 'False'], levels: [100, 300, 500, 250, 250], targetUtilization: 50, expectedReplicas: 2, expectedUtilization: 30 },
  { name: 'TestReplicaCalcScaleDownExcludeUnscheduledPods', currentReplicas: 5, podReadiness: ['True', 'False', 'False', 'False', 'False'], podPhase: ['Running', 'Pending', 'Pending', 'Pending', 'Pending'], levels: [100], targetUtilization: 50, expectedReplicas: 1, expectedUtilization: 10 },
  { name: 'TestReplicaCalcScaleDownIgnoreHotCpuPods', currentReplicas: 5, hotCpu: [false, false, false, true, true], levels: [100, 300, 500, 250, 250], targetUtilization: 50, expectedReplicas: 2, expectedUtilization: 30 },
  { name: 'TestReplicaCalcScaleDownIgnoresFailedPods', currentReplicas: 5, podReadiness: ['True', 'True', 'True', 'True', 'True', 'False', 'False'], podPhase: ['Running', 'Running', 'Running', 'Running', 'Running', 'Failed', 'Failed'], levels: [100, 300, 500, 250, 250], targetUtilization: 50, expectedReplicas: 3, expectedUtilization: 28 },
  { name: 'TestReplicaCalcScaleDownIgnoresDeletionPods', currentReplicas: 5, podReadiness: ['True', 'True', 'True', 'True', 'True', 'False', 'False'], podPhase: ['Running', 'Running', 'Running', 'Running', 'Running', 'Running', 'Running'], podDeletion: [false, false, false, false, false, true, true], levels: [100, 300, 500, 250, 250], targetUtilization: 50, expectedReplicas: 3, expectedUtilization: 28 },
  { name: 'TestReplicaCalcSuperfluousMetrics', currentReplicas: 4, levels: [4000, 9500, 3000, 7000, 3200, 2000], targetUtilization: 100, expectedReplicas: 24, expectedUtilization: 587 },
  { name: 'TestReplicaCalcMissingMetrics', currentReplicas: 4, levels: [400, 95], targetUtilization: 100, expectedReplicas: 3, expectedUtilization: 24 },
  { name: 'TestReplicaCalcEmptyMetrics', currentReplicas: 4, levels: [], targetUtilization: 100 },
  { name: 'TestReplicaCalcMissingMetricsNoChangeEq', currentReplicas: 2, levels: [1000], targetUtilization: 100, expectedReplicas: 2, expectedUtilization: 100 },
  { name: 'TestReplicaCalcMissingMetricsNoChangeGt', currentReplicas: 2, levels: [1900], targetUtilization: 100, expectedReplicas: 2, expectedUtilization: 190 },
  { name: 'TestReplicaCalcMissingMetricsNoChangeLt', currentReplicas: 2, levels: [600], targetUtilization: 100, expectedReplicas: 2, expectedUtilization: 60 },
  { name: 'TestReplicaCalcMissingMetricsUnreadyChange', currentReplicas: 3, podReadiness: ['False', 'True', 'True'], levels: [100, 450], targetUtilization: 50, expectedReplicas: 3, expectedUtilization: 45 },
  { name: 'TestReplicaCalcMissingMetricsHotCpuNoChange', currentReplicas: 3, hotCpu: [true, false, false], levels: [100, 450], targetUtilization: 50, expectedReplicas: 3, expectedUtilization: 45 },
  { name: 'TestReplicaCalcMissingMetricsUnreadyScaleUp', currentReplicas: 3, podReadiness: ['False', 'True', 'True'], levels: [100, 2000], targetUtilization: 50, expectedReplicas: 4, expectedUtilization: 200 },
  { name: 'TestReplicaCalcMissingMetricsHotCpuScaleUp', currentReplicas: 3, podReadiness: ['False', 'True', 'True'], hotCpu: [true, false, false], levels: [100, 2000], targetUtilization: 50, expectedReplicas: 4, expectedUtilization: 200 },
  { name: 'TestReplicaCalcMissingMetricsUnreadyScaleDown', currentReplicas: 4, podReadiness: ['False', 'True', 'True', 'True'], levels: [100, 100, 100], targetUtilization: 50, expectedReplicas: 3, expectedUtilization: 10 },
  // Restated with equal requests (see the header): 10 pods using 150m of 300m, 50%; target
  // int32((1 / (2 x (1 - 0.1)) + 0.01) x 100) = 56 scales to ceil(50 / 56 x 10) = 9, and
  // int32((1 / (2 x 0.9) + 0.004) x 100) = 55 is within the tolerance.
  { name: 'TestReplicaCalcComputedToleranceAlgImplementation (scaling)', currentReplicas: 10, levels: new Array(10).fill(500), targetUtilization: 56, expectedReplicas: 9, expectedUtilization: 50 },
  { name: 'TestReplicaCalcComputedToleranceAlgImplementation (within tolerance)', currentReplicas: 10, levels: new Array(10).fill(500), targetUtilization: 55, expectedReplicas: 10, expectedUtilization: 50 },
];

// hpaPolicy's warm-up is one sync period (15 s); a "hot" pod became ready 5 s ago.
const HOT_READY_AGO = 5_000;
const like = makePolicy({ min: 1, max: 1000 });

function guestsOf(c: ReplicaCalcCase): Guest[] {
  const n = Math.max(c.currentReplicas, c.podPhase?.length ?? 0);
  return Array.from({ length: n }, (_, i) => {
    const id = `test-pod-${i}`;
    const base: Guest = { id, pool: 'web', state: 'healthy', driver: 'fake', host: 'h', createdAt: NOW - 3600_000, updatedAt: NOW - 3600_000, meta: {} };
    if (c.podPhase?.[i] === 'Failed') return { ...base, state: 'failed' };
    if (c.podDeletion?.[i]) return { ...base, state: 'draining', healthyAt: NOW - 3000_000 };
    if (c.podPhase?.[i] === 'Pending') return { ...base, state: 'cloning' };
    if (c.podReadiness?.[i] === 'False') return { ...base, state: 'booting' };
    return { ...base, healthyAt: c.hotCpu?.[i] ? NOW - HOT_READY_AGO : NOW - 3000_000 };
  });
}

function sampleOf(c: ReplicaCalcCase): PoolSample {
  const guests: PoolSample['guests'] = {};
  c.levels.forEach((level, i) => {
    guests[c.podNames?.[i] ?? `test-pod-${i}`] = { cpu: level / 10 };
  });
  return { at: NOW, guests };
}

for (const c of cases) {
  test(`HPA replica calculator: ${c.name}`, (t) => {
    const policy = hpaPolicy(like, { targetCpu: c.targetUtilization });
    const guests = guestsOf(c);
    const live = guests.filter((g) => g.state !== 'failed'); // the pool's view holds live guests only
    const { decision } = decide(policy, makeView({ guests: live, samples: [sampleOf(c)] }, policy), NOW, BASELINE_STRATEGIES);
    t.is(decision.from, c.currentReplicas, 'currentReplicas');
    if (c.expectedReplicas === undefined) {
      t.is(decision.inputs.recommended, undefined, decision.reason);
      t.is(decision.action, 'hold');
      return;
    }
    t.is(decision.inputs.recommended, c.expectedReplicas, decision.reason);
    t.regex(decision.reason, new RegExp(`cpu utilization ${c.expectedUtilization}% `));
  });
}

// horizontal_test.go: the controller around the calculator, with the default behaviour.
const hpa = hpaPolicy(like, { targetCpu: 70 });
const view = (n: number, cpu: number, recommendations: { at: number; desired: number }[] = []) =>
  makeView({ guests: Array.from({ length: n }, (_, i) => ({ id: `p${i}`, pool: 'web', state: 'healthy' as const, driver: 'fake', host: 'h', createdAt: 0, updatedAt: 0, healthyAt: 0, meta: {} })), samples: [{ at: NOW, guests: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, { cpu }])) }], recommendations }, hpa);

test('HPA default behaviour: scaleUp with default behavior (10 -> 50 wanted -> 20: 100% per 15 s beats 4 pods)', (t) => {
  const { decision } = decide(hpa, view(10, 350), NOW, BASELINE_STRATEGIES);
  t.is(decision.inputs.recommended, 50);
  t.is(desiredSize(decision), 20);
});

test('HPA default behaviour: a small pool may grow by 4 pods per 15 s (more than 100%)', (t) => {
  const { decision } = decide(hpa, view(2, 350), NOW, BASELINE_STRATEGIES);
  t.is(decision.inputs.recommended, 10);
  t.is(desiredSize(decision), 6);
});

test('HPA default behaviour: scaleDown with default policy and previous events (10 -> 5: no rate limit down)', (t) => {
  const { decision } = decide(hpa, view(10, 35), NOW, BASELINE_STRATEGIES);
  t.is(desiredSize(decision), 5);
});

const MIN = 60_000;
const stabilization: { name: string; recs: [number, number][]; expected: number }[] = [
  { name: 'empty log', recs: [], expected: 3 },
  { name: 'stabilize', recs: [[4, -2], [5, -1]], expected: 5 },
  { name: 'no stabilize', recs: [[1, -2], [2, -1]], expected: 3 },
  { name: 'no stabilize - old recommendations', recs: [[10, -10], [9, -9]], expected: 3 },
  { name: 'stabilize - old recommendations', recs: [[10, -10], [4, -1], [5, -2], [9, -9]], expected: 5 },
];
for (const c of stabilization) {
  test(`HPA default behaviour: 5 minute downscale stabilization, TestNormalizeDesiredReplicas "${c.name}"`, (t) => {
    // 10 pods at 21% of a 70% target: 3 wanted before stabilization.
    const recs = c.recs.map(([desired, minutes]) => ({ at: NOW + minutes * MIN, desired })).sort((a, b) => a.at - b.at);
    const { decision } = decide(hpa, view(10, 21, recs), NOW, BASELINE_STRATEGIES);
    t.is(decision.inputs.recommended, 3);
    t.is(desiredSize(decision), c.expected);
  });
}

test('HPA does not hold while pods start: it scales out again beside them when the load needs it', (t) => {
  // 3 ready pods at 100% of a 50% target and 1 starting (counted at 0%): (300 / 4) / 50 = 1.5,
  // ceil(1.5 x 4) = 6, decided while the fourth still starts.
  const p = hpaPolicy(like, { targetCpu: 50 });
  const guests = [...view(3, 100).guests, { id: 'starting', pool: 'web', state: 'booting' as const, driver: 'fake', host: 'h', createdAt: 0, updatedAt: 0, meta: {} }];
  const { decision } = decide(p, makeView({ guests, samples: [{ at: NOW, guests: { p0: { cpu: 100 }, p1: { cpu: 100 }, p2: { cpu: 100 } } }] }, p), NOW, BASELINE_STRATEGIES);
  t.is(decision.action, 'scale-out');
  t.is(decision.from, 4);
  t.is(desiredSize(decision), 6);
});

test('HPA recomputes every 15 s sync period in the simulator too, never holding for the pods it started', (t) => {
  // 2 guests at 100% of a 50% target under 10 guests' worth of load: 4 at 15 s, then at 30 s
  // 2 ready at 100% and 2 starting: (200 / 4) / 50 = 1.0, within the tolerance: it keeps 4.
  // Once the new pods count (warm-up 15 s after they serve at 50 s) it scales on: no cooldown.
  const r = simulate({ policy: hpaPolicy(makePolicy({ min: 2, max: 20 }), { targetCpu: 50 }), trace: new Float64Array(150).fill(500), stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, strategies: BASELINE_STRATEGIES });
  const outs = r.actions.filter((a) => a.action === 'scale-out').map((a) => [(a.at - DEFAULT_START) / 1000, a.from, a.to]);
  t.deepEqual(outs.slice(0, 2), [[15, 2, 4], [75, 4, 8]]);
});

test('the HPA memory keeps recommendations for its 300 s window: a scale-down waits for the highest of them', (t) => {
  let m = emptyMemory();
  const p = hpa;
  // 10 guests busy for a while (10 wanted), then idle (3 wanted): no scale-in for 300 s.
  const g = view(10, 70).guests;
  for (let s = 0; s <= 600; s += 15) {
    const at = NOW + s * 1000;
    const cpu = s < 60 ? 70 : 21;
    const r = tick(p, m, g, { at, guests: Object.fromEntries(g.map((x) => [x.id, { cpu }])) }, at, BASELINE_STRATEGIES);
    m = r.memory;
    if (r.result.decision.action === 'scale-in') {
      t.is(s, 45 + 300, 'the last recommendation of 10 was at 45 s');
      t.is(desiredSize(r.result.decision), 3);
      return;
    }
  }
  t.fail('no scale-in');
});
