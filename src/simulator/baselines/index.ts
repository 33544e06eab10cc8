// The baseline autoscalers the elasticity benchmark compares gridhost with. Importing this
// module registers their strategies in the decision core's registry (additive: new names only).
import type { Policy } from '../../domain/policy.ts';
import { registerStrategy, strategies } from '../../decision/strategies/index.ts';
import { awsSimplePolicy } from './aws-simple.ts';
import { awsTargetTracking, awsTargetTrackingPolicy } from './aws-target-tracking.ts';
import { cloudStackAutoScale, cloudStackPolicy } from './cloudstack.ts';
import { hpaPolicy } from './hpa.ts';
import { nomadThreshold, nomadThresholdPolicy } from './nomad-threshold.ts';

if (strategies['aws-target-tracking'] === undefined) registerStrategy('aws-target-tracking', awsTargetTracking);
if (strategies['nomad-threshold'] === undefined) registerStrategy('nomad-threshold', nomadThreshold);
if (strategies['cloudstack-autoscale'] === undefined) registerStrategy('cloudstack-autoscale', cloudStackAutoScale);

export interface Baseline {
  name: string;
  /** Builds the baseline's policy for the pool, bounds and guests of `like`. */
  policy: (like: Policy) => Policy;
}

export const BASELINES: readonly Baseline[] = [
  { name: 'k8s-hpa', policy: (p) => hpaPolicy(p) },
  { name: 'aws-simple', policy: (p) => awsSimplePolicy(p) },
  { name: 'aws-target-tracking', policy: (p) => awsTargetTrackingPolicy(p) },
  { name: 'nomad-threshold', policy: (p) => nomadThresholdPolicy(p) },
  { name: 'cloudstack', policy: (p) => cloudStackPolicy(p) },
];

export { awsSimplePolicy, awsTargetTrackingPolicy, cloudStackPolicy, hpaPolicy, nomadThresholdPolicy };
