// Kubernetes Horizontal Pod Autoscaler, from its published algorithm:
// https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details
//   desiredReplicas = ceil(currentReplicas * currentMetricValue / desiredMetricValue),
//   no change while the ratio is within the tolerance (--horizontal-pod-autoscaler-tolerance,
//   default 0.1), not-ready pods left out of the average (and assumed at 0% on scale-up, 100% of
//   target on scale-down), evaluated every sync period (--horizontal-pod-autoscaler-sync-period,
//   default 15 s), scale-down stabilized over the highest recommendation of the last 300 s
//   (--horizontal-pod-autoscaler-downscale-stabilization, behavior.scaleDown.stabilizationWindowSeconds).
// gridhost's target-tracking strategy is this algorithm, so the baseline is a policy over it;
// decide() supplies the stabilization window and only warmed-up healthy guests are averaged.
import type { Policy, TargetTrackingRule } from '../../domain/policy.ts';
import { baselinePolicy } from './base-policy.ts';

export interface HpaOptions {
  /** Target average CPU utilization, % (HPA targetAverageUtilization). */
  targetCpu?: number;
}

export function hpaPolicy(like: Policy, o: HpaOptions = {}): Policy {
  const rule: TargetTrackingRule = {
    name: 'hpa-cpu',
    strategy: 'target-tracking',
    metric: 'cpu',
    aggregate: 'mean',
    target: o.targetCpu ?? 70,
    tolerance: 0.1,
    for: 1,
  };
  return baselinePolicy(like, 'k8s-hpa', {
    intervalMs: 15_000,
    scaleOutCooldownMs: 0,
    scaleInCooldownMs: 0,
    stabilizationMs: 300_000,
    rules: [rule],
  });
}
