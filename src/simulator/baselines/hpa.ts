// Kubernetes Horizontal Pod Autoscaler on CPU utilization, as its project defines it:
//   pkg/controller/podautoscaler/replica_calculator.go (GetResourceReplicas, groupPods) and
//   horizontal.go (default behaviour), kubernetes/kubernetes; the table tests in
//   test/simulator/baselines-hpa.test.ts restate replica_calculator_test.go's and
//   horizontal_test.go's numeric cases.
//
// The replica calculator, per sync period (--horizontal-pod-autoscaler-sync-period, 15 s):
//  - pods are grouped: deleted and failed pods do not exist for it; pending pods, unready pods
//    and pods in their CPU initialization period without a full metric window since they became
//    ready are "ignored"; ready pods without a metric are "missing"; the rest are ready.
//    Here: draining/stopping/failed guests are not counted; cloning, booting and warming-up
//    guests (current - eligible) are ignored; eligible guests that did not report are missing;
//    reporters are ready (warm-up = one metric window, see hpaPolicy);
//  - usage ratio = mean utilization of the ready pods / target;
//  - without ignored pods on a scale-up and without missing pods: within the tolerance (0.1)
//    keep the current count, else ceil(ratio x ready pods);
//  - otherwise recompute conservatively: missing pods count as 100% of their request on a
//    scale-down and 0% on a scale-up; ignored pods count as 0% on a scale-up only (on a
//    scale-down they are left out, not counted at target); then keep the current count if the
//    new ratio is within the tolerance or would reverse the direction, else
//    ceil(new ratio x pods counted), unless that moves against the new ratio.
// The controller then keeps the highest recommendation of the last 300 s on a scale-down
// (decide()'s stabilization), limits a scale-up to 100% or 4 pods more per 15 s, whichever is
// more (policy.peer.scaleOutLimit), and never holds for pods starting or terminating
// (policy.peer.ignoreInFlight): currentReplicas counts starting pods.
import type { Policy } from '../../domain/policy.ts';
import { ceilSafe, fmt1 } from '../../decision/format.ts';
import type { Strategy } from '../../decision/strategy.ts';
import { baselinePolicy, type BaselineRuleBase } from './base-policy.ts';

export interface HpaRule extends BaselineRuleBase {
  strategy: 'k8s-hpa';
  /** Target average utilization, % of the request (each guest requests one CPU: cpu %). */
  targetUtilization: number;
  /** --horizontal-pod-autoscaler-tolerance. */
  tolerance: number;
}

/** A missing pod's utilization on a scale-down: 100% of its request. */
const MISSING_ON_SCALE_DOWN = 100;

export const hpaReplicas: Strategy<HpaRule> = ({ config: c, series, current, ready, eligible }) => {
  const latest = series[series.length - 1];
  // "did not receive metrics for any ready pods": the HPA does not scale (ScalingActive false).
  if (latest === null || latest === undefined || ready <= 0 || c.targetUtilization <= 0) return undefined;
  const missing = Math.max(0, eligible - ready);
  const ignored = Math.max(0, current - eligible);
  const utilization = Math.floor(latest + 1e-9);
  const ratio = latest / c.targetUtilization;
  const head = `cpu utilization ${utilization}% of ${ready} ready / target ${c.targetUtilization}% = ${ratio.toFixed(2)}`;
  const within = (r: number) => Math.abs(1 - r) <= c.tolerance + 1e-9;

  const rebalanceIgnored = ignored > 0 && ratio > 1;
  if (!rebalanceIgnored && missing === 0) {
    if (within(ratio)) return { desired: current, reason: `${head} (within tolerance ${c.tolerance})` };
    const desired = ceilSafe(ratio * ready);
    return { desired, reason: `${head} -> ceil(${ratio.toFixed(2)} x ${ready}) = ${desired}` };
  }
  let sum = latest * ready;
  let n = ready;
  const parts: string[] = [];
  if (missing > 0 && ratio < 1) {
    sum += MISSING_ON_SCALE_DOWN * missing;
    n += missing;
    parts.push(`${missing} missing at 100%`);
  } else if (missing > 0 && ratio > 1) {
    n += missing;
    parts.push(`${missing} missing at 0%`);
  }
  if (rebalanceIgnored) {
    n += ignored;
    parts.push(`${ignored} not ready at 0%`);
  }
  const newRatio = sum / n / c.targetUtilization;
  const recomputed = `${head}; with ${parts.join(', ')}: ${fmt1(sum / n)}% -> ${newRatio.toFixed(2)}`;
  if (within(newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) {
    return { desired: current, reason: `${recomputed}: keeps ${current} (within tolerance or reversed)` };
  }
  const desired = ceilSafe(newRatio * n);
  if ((newRatio < 1 && desired > current) || (newRatio > 1 && desired < current)) {
    return { desired: current, reason: `${recomputed} -> ceil(x ${n}) = ${desired} moves against the ratio: keeps ${current}` };
  }
  return { desired, reason: `${recomputed} -> ceil(${newRatio.toFixed(2)} x ${n}) = ${desired}` };
};

export interface HpaOptions {
  /** Target average CPU utilization, % (HPA targetAverageUtilization). */
  targetCpu?: number;
}

export function hpaPolicy(like: Policy, o: HpaOptions = {}): Policy {
  const rule: HpaRule = { name: 'hpa-cpu', strategy: 'k8s-hpa', metric: 'cpu', aggregate: 'mean', targetUtilization: o.targetCpu ?? 70, tolerance: 0.1, for: 1 };
  return baselinePolicy(like, 'k8s-hpa', {
    intervalMs: 15_000,
    // The HPA recomputes every sync period whatever is starting or terminating (starting pods
    // count in currentReplicas), and its default behaviour limits a scale-up to 100% or 4 pods
    // per 15 s, whichever is more; scale-down is limited to 100% per 15 s (no limit here).
    whileBooting: 'add',
    peer: { ignoreInFlight: true, scaleOutLimit: { percent: 100, guests: 4 } },
    // A ready pod's CPU sample counts once a full metric window has passed since it became
    // ready (groupPods' initialization rule); the window is taken as one sync period.
    warmupMs: 15_000,
    scaleOutCooldownMs: 0,
    scaleInCooldownMs: 0,
    // --horizontal-pod-autoscaler-downscale-stabilization (behavior.scaleDown.stabilizationWindowSeconds)
    stabilizationMs: 300_000,
    rules: [rule],
  });
}
