// The baseline autoscalers the elasticity benchmark compares gridhost with, each built from its
// project's own definition (cited in its file, its cases restated in test/simulator/baselines-*).
// Their strategies are not in the core registry (policy files cannot name them):
// BASELINE_STRATEGIES is the core registry plus theirs, passed to decide() / simulate() by
// whoever runs a baseline.
import type { Policy } from '../../domain/policy.ts';
import { CORE_STRATEGIES, withStrategies } from '../../decision/strategies/index.ts';
import { awsSimplePolicy } from './aws-simple.ts';
import { awsTargetTracking, awsTargetTrackingPolicy } from './aws-target-tracking.ts';
import { cloudStackAutoScale, cloudStackPolicy } from './cloudstack.ts';
import { hpaPolicy, hpaReplicas } from './hpa.ts';
import { nomadTargetValue, nomadTargetValuePolicy, nomadThreshold, nomadThresholdPolicy } from './nomad.ts';
import { oneFlowElasticity, oneFlowPolicy } from './oneflow.ts';

export const BASELINE_STRATEGIES = withStrategies(CORE_STRATEGIES, {
  'k8s-hpa': hpaReplicas,
  'aws-target-tracking': awsTargetTracking,
  'nomad-threshold': nomadThreshold,
  'nomad-target-value': nomadTargetValue,
  'cloudstack-autoscale': cloudStackAutoScale,
  'oneflow-elasticity': oneFlowElasticity,
});

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
  { name: 'nomad-target-value', policy: (p) => nomadTargetValuePolicy(p) },
  { name: 'cloudstack', policy: (p) => cloudStackPolicy(p) },
  { name: 'oneflow', policy: (p) => oneFlowPolicy(p) },
];

export { awsSimplePolicy, awsTargetTrackingPolicy, cloudStackPolicy, hpaPolicy, nomadTargetValuePolicy, nomadThresholdPolicy, oneFlowPolicy };
