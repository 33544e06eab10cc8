// AWS EC2 Auto Scaling simple scaling, from the published rules:
// https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html
// A CloudWatch alarm on the group's average CPUUtilization with a 60 s period and 3 evaluation
// periods (3 consecutive periods beyond the threshold) triggers a simple scaling policy that
// adds or removes one instance (ChangeInCapacity +1 / -1); after an activity the group's
// cooldown (DefaultCooldown, 300 s) must pass before the policy responds to an alarm again:
// alarms during the cooldown are ignored, not queued.
// Expressed with gridhost's threshold strategy (each sample is the mean over its 60 s period).
// The cooldown is the group's, so a scale-out also waits for it after a scale-in.
import type { Policy, ThresholdRule } from '../../domain/policy.ts';
import { baselinePolicy } from './base-policy.ts';

export interface AwsSimpleOptions {
  highCpu?: number;
  lowCpu?: number;
}

export function awsSimplePolicy(like: Policy, o: AwsSimpleOptions = {}): Policy {
  const out: ThresholdRule = { name: 'alarm-high', strategy: 'threshold', metric: 'cpu', aggregate: 'mean', above: o.highCpu ?? 70, for: 3, step: { kind: 'count', value: 1 } };
  const inn: ThresholdRule = { name: 'alarm-low', strategy: 'threshold', metric: 'cpu', aggregate: 'mean', below: o.lowCpu ?? 30, for: 3, step: { kind: 'count', value: -1 } };
  return baselinePolicy(like, 'aws-simple', {
    intervalMs: 60_000,
    // "the policy must wait for the scaling activity ... to complete and the cooldown period to
    // expire before responding to additional alarms": it holds while instances launch, and the
    // cooldown starts when the activity has completed.
    whileBooting: 'hold',
    // The cooldown is the group's: after any scaling activity, not only a scale-out.
    peer: { cooldownAfterAny: true },
    scaleOutCooldownMs: 300_000,
    scaleInCooldownMs: 300_000,
    rules: [out, inn],
  });
}
