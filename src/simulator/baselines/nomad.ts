// The Nomad Autoscaler's threshold and target-value strategies, as its project defines them:
//   plugins/builtin/strategy/threshold/plugin/plugin.go and
//   plugins/builtin/strategy/target-value/plugin/plugin.go, hashicorp/nomad-autoscaler; the
//   table tests in test/simulator/baselines-nomad.test.ts restate their plugin_test.go cases.
//   The policy handler (policy/handler.go): evaluation every evaluation_interval (agent
//   default 10 s), cooldown (default 5 m) from when the scale call to the target has returned;
//   the Nomad target is ready while the job runs, so allocations still starting do not hold it.
//
// threshold: a tier (lower_bound inclusive, upper_bound exclusive, either may be absent) acts
// when at least within_bounds_trigger (default 5) datapoints of the query window lie in it;
// its action is one of delta (count + delta), percentage (ceil(count x (1 + p/100))) or value
// (exactly value); a negative result is 0; the same count is no action.
// target-value: the latest datapoint's factor = value / target (value itself for target 0) is
// "no action" inside [1 - threshold, 1 + threshold] (threshold default 0.01); otherwise
// ceil(count x factor) (ceil(factor) from 0), limited by max_scale_up / max_scale_down.
import type { Policy } from '../../domain/policy.ts';
import { fmt1 } from '../../decision/format.ts';
import type { Strategy } from '../../decision/strategy.ts';
import { baselinePolicy, type BaselineRuleBase } from './base-policy.ts';

export type NomadThresholdAction = { delta: number } | { percentage: number } | { value: number };

export interface NomadThresholdRule extends BaselineRuleBase {
  strategy: 'nomad-threshold';
  lowerBound?: number;
  upperBound?: number;
  action: NomadThresholdAction;
  withinBoundsTrigger: number;
}

function newCount(action: NomadThresholdAction, count: number): number {
  if ('delta' in action) return count + action.delta;
  if ('percentage' in action) return Math.ceil(count * (1 + action.percentage / 100));
  return action.value;
}

function actionText(a: NomadThresholdAction): string {
  if ('delta' in a) return `delta ${a.delta > 0 ? '+' : ''}${a.delta}`;
  if ('percentage' in a) return `percentage ${a.percentage}`;
  return `value ${a.value}`;
}

export const nomadThreshold: Strategy<NomadThresholdRule> = ({ config: c, series, current }) => {
  const window = series.filter((v): v is number => v !== null);
  if (window.length === 0) return undefined; // "no metrics available"
  const lo = c.lowerBound ?? -Infinity;
  const hi = c.upperBound ?? Infinity;
  const within = window.filter((v) => v >= lo && v < hi).length;
  if (within < c.withinBoundsTrigger) return undefined;
  const desired = Math.max(0, newCount(c.action, current));
  if (desired === current) return undefined; // direction none
  return {
    desired,
    reason: `${within} of ${window.length} ${c.metric} points in [${c.lowerBound ?? '-inf'}, ${c.upperBound ?? 'inf'}) >= within_bounds_trigger ${c.withinBoundsTrigger} (last ${fmt1(window[window.length - 1]!)}): ${actionText(c.action)}`,
  };
};

export interface NomadTargetValueRule extends BaselineRuleBase {
  strategy: 'nomad-target-value';
  target: number;
  /** Default 0.01. */
  threshold: number;
  maxScaleUp?: number;
  maxScaleDown?: number;
}

/** calculateDirection: from 0 any positive factor is up; otherwise outside [1 - e, 1 + e]. */
export function nomadDirection(count: number, factor: number, e: number): 'up' | 'down' | 'none' {
  if (count === 0) return factor > 0 ? 'up' : 'none';
  return factor < 1 - e ? 'down' : factor > 1 + e ? 'up' : 'none';
}

export const nomadTargetValue: Strategy<NomadTargetValueRule> = ({ config: c, series, current }) => {
  const values = series.filter((v): v is number => v !== null);
  if (values.length === 0) return undefined;
  const value = values[values.length - 1]!; // "Use only the latest value for now."
  const factor = c.target === 0 ? value : value / c.target;
  const direction = nomadDirection(current, factor, c.threshold);
  if (direction === 'none') return undefined;
  const up = direction === 'up';
  let desired = current === 0 ? Math.ceil(factor) : Math.ceil(current * factor);
  if (c.maxScaleDown !== undefined && desired < current - c.maxScaleDown) desired = current - c.maxScaleDown;
  if (c.maxScaleUp !== undefined && desired > current + c.maxScaleUp) desired = current + c.maxScaleUp;
  if (desired === current) return undefined;
  return { desired, reason: `scaling ${up ? 'up' : 'down'} because factor is ${factor.toFixed(6)} (${c.metric} ${fmt1(value)} / target ${c.target})` };
};

const NOMAD_DEFAULTS = {
  // policy.default_evaluation_interval and policy.default_cooldown of the agent
  intervalMs: 10_000,
  whileBooting: 'add' as const,
  // One cooldown per policy, after an action in either direction.
  peer: { ignoreInFlight: true, cooldownFrom: 'started' as const, cooldownAfterAny: true },
  scaleOutCooldownMs: 300_000,
  scaleInCooldownMs: 300_000,
};

export function nomadThresholdPolicy(like: Policy, o: { highCpu?: number; lowCpu?: number } = {}): Policy {
  // query_window 1 m at a 10 s evaluation interval: 6 datapoints.
  const tier = (name: string, bounds: { lowerBound?: number; upperBound?: number }, delta: number): NomadThresholdRule => ({
    name,
    strategy: 'nomad-threshold',
    metric: 'cpu',
    aggregate: 'mean',
    for: 6,
    action: { delta },
    withinBoundsTrigger: 5,
    ...bounds,
  });
  return baselinePolicy(like, 'nomad-threshold', {
    ...NOMAD_DEFAULTS,
    rules: [tier('tier-high', { lowerBound: o.highCpu ?? 70 }, +1), tier('tier-low', { upperBound: o.lowCpu ?? 30 }, -1)],
  });
}

export function nomadTargetValuePolicy(like: Policy, o: { targetCpu?: number } = {}): Policy {
  const rule: NomadTargetValueRule = { name: 'target-value', strategy: 'nomad-target-value', metric: 'cpu', aggregate: 'mean', for: 1, target: o.targetCpu ?? 70, threshold: 0.01 };
  return baselinePolicy(like, 'nomad-target-value', { ...NOMAD_DEFAULTS, rules: [rule] });
}
