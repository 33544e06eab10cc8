// Nomad Autoscaler threshold strategy, from the published plugin documentation:
// https://developer.hashicorp.com/nomad/tools/autoscaling/plugins/strategy/threshold
// https://developer.hashicorp.com/nomad/tools/autoscaling/policy
// A tier (lower_bound, upper_bound, delta) acts when at least within_bounds_trigger (default 5)
// datapoints of the query window lie within its bounds (lower inclusive, upper exclusive);
// the action changes the count by delta. The policy is evaluated every evaluation_interval
// (agent default 10 s) over query_window (default 1 m), and after any scaling action the policy
// waits cooldown (default 5 m).
import type { Policy } from '../../domain/policy.ts';
import { fmt1 } from '../../decision/format.ts';
import type { Strategy } from '../../decision/strategy.ts';
import { baselinePolicy, type BaselineRuleBase } from './base-policy.ts';

export interface NomadThresholdRule extends BaselineRuleBase {
  strategy: 'nomad-threshold';
  lowerBound?: number;
  upperBound?: number;
  delta: number;
  withinBoundsTrigger: number;
}

export const nomadThreshold: Strategy<NomadThresholdRule> = ({ config: c, series, current }) => {
  const window = series.slice(Math.max(0, series.length - c.for)).filter((v): v is number => v !== null);
  const lo = c.lowerBound ?? -Infinity;
  const hi = c.upperBound ?? Infinity;
  const within = window.filter((v) => v >= lo && v < hi).length;
  if (within < c.withinBoundsTrigger) return undefined;
  const desired = Math.max(0, current + c.delta);
  return {
    desired,
    reason: `${within} of ${window.length} ${c.metric} points in [${c.lowerBound ?? '-inf'}, ${c.upperBound ?? 'inf'}) >= within_bounds_trigger ${c.withinBoundsTrigger} (last ${fmt1(window[window.length - 1] ?? NaN)}): delta ${c.delta > 0 ? '+' : ''}${c.delta}`,
  };
};

export function nomadThresholdPolicy(like: Policy, o: { highCpu?: number; lowCpu?: number } = {}): Policy {
  // query_window 1 m at a 10 s evaluation interval: 6 datapoints.
  const tier = (name: string, bounds: { lowerBound?: number; upperBound?: number }, delta: number): NomadThresholdRule => ({
    name,
    strategy: 'nomad-threshold',
    metric: 'cpu',
    aggregate: 'mean',
    for: 6,
    delta,
    withinBoundsTrigger: 5,
    ...bounds,
  });
  return baselinePolicy(like, 'nomad-threshold', {
    intervalMs: 10_000,
    scaleOutCooldownMs: 300_000,
    scaleInCooldownMs: 300_000,
    rules: [tier('tier-high', { lowerBound: o.highCpu ?? 70 }, +1), tier('tier-low', { upperBound: o.lowCpu ?? 30 }, -1)],
  });
}
