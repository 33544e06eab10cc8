// AWS target tracking scaling, from the published behaviour:
// https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-target-tracking.html
// The service creates two CloudWatch alarms on the metric (60 s periods): a high alarm of
// 3 datapoints above the target, which scales out *proportionally* to the metric
// (desired = ceil(capacity * metric / target), "scale out fast"), and a low alarm of
// 15 datapoints below a threshold under the target (typically 10% lower), which scales in
// conservatively ("scale in gradually"); scale-in waits for the scale-in cooldown (300 s default).
import type { Policy } from '../../domain/policy.ts';
import { ceilSafe, fmt1 } from '../../decision/format.ts';
import type { Strategy } from '../../decision/strategy.ts';
import { baselinePolicy, lastValues, mean, type BaselineRuleBase } from './base-policy.ts';

export interface AwsTargetTrackingRule extends BaselineRuleBase {
  strategy: 'aws-target-tracking';
  /** Which of the two alarms this rule is: `for` is its number of datapoints (3 high, 15 low). */
  alarm: 'high' | 'low';
  target: number;
  /** The low alarm's threshold as a fraction of the target (0.9). */
  inThreshold: number;
}

export const awsTargetTracking: Strategy<AwsTargetTrackingRule> = ({ config: c, series, current, ready }) => {
  if (ready <= 0) return undefined;
  const vals = lastValues(series, c.for);
  if (!vals) return undefined;
  const m = mean(vals);
  if (c.alarm === 'high') {
    if (!vals.every((v) => v > c.target)) return undefined;
    const desired = Math.max(current, ceilSafe((ready * m) / c.target));
    return { desired, reason: `high alarm: ${c.metric} ${fmt1(m)} > target ${c.target} for ${c.for} periods -> ceil(${ready} x ${fmt1(m)} / ${c.target}) = ${desired}` };
  }
  const bound = c.target * c.inThreshold;
  if (!vals.every((v) => v < bound)) return undefined;
  const desired = Math.min(current, Math.max(1, ceilSafe((ready * m) / c.target)));
  return { desired, reason: `low alarm: ${c.metric} ${fmt1(m)} < ${fmt1(bound)} for ${c.for} periods -> ceil(${ready} x ${fmt1(m)} / ${c.target}) = ${desired}` };
};

export function awsTargetTrackingPolicy(like: Policy, o: { targetCpu?: number } = {}): Policy {
  const alarm = (a: 'high' | 'low', periods: number): AwsTargetTrackingRule => ({
    name: `alarm-${a}`,
    strategy: 'aws-target-tracking',
    metric: 'cpu',
    aggregate: 'mean',
    alarm: a,
    target: o.targetCpu ?? 70,
    inThreshold: 0.9,
    for: periods,
  });
  return baselinePolicy(like, 'aws-target-tracking', {
    intervalMs: 60_000,
    // Instance warm-up instead of a cooldown: instances warming up count towards the capacity
    // but not towards the metric, a scale-out adds only what exceeds them, and scale-in is blocked
    // until they are warmed up. Without a default instance warmup set, the warm-up is the
    // group's default cooldown, 300 s. (Cooldowns are for simple scaling only.)
    whileBooting: 'add',
    warmupMs: 300_000,
    scaleOutCooldownMs: 0,
    scaleInCooldownMs: 0,
    rules: [alarm('high', 3), alarm('low', 15)],
  });
}
