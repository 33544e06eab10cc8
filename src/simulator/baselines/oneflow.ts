// OpenNebula OneFlow elasticity policies, as the project defines them: its documentation
// ("OneFlow Services Auto-scaling") and src/flow/lib/models/role.rb (scale_attributes?,
// calculate_new_cardinality; since 2025 in vmrole.rb, unchanged), ServiceAutoScaler.rb and
// LifeCycleManager.rb in OpenNebula/one; table tests in test/simulator/baselines-oneflow.test.ts.
//  - Every :autoscaler_interval (default 90 s) the autoscaler evaluates the roles of services
//    that are RUNNING: not while a role scales, nor during its cooldown.
//  - A policy's expression compares the mean of a VM attribute over the role's RUNNING VMs
//    (rounded to 2 decimals; false when no VM reports it); a policy is evaluated at most once a
//    `period`, and triggers once it was true `period_number` evaluations in a row.
//  - Its adjustment: CHANGE (cardinality + adjust), CARDINALITY (adjust), PERCENTAGE_CHANGE
//    (cardinality x adjust / 100, truncated, at least 1 and at least min_adjust_step, with the
//    sign of the change); a step up stops at max(cardinality, max_vms), a step down at min_vms.
//  - After the scale-up's VMs run (or a scale-down's are gone) the service is in COOLDOWN for
//    the policy's cooldown, else the role's, else :default_cooldown (300 s).
import type { Policy } from '../../domain/policy.ts';
import type { Strategy } from '../../decision/strategy.ts';
import { baselinePolicy, type BaselineRuleBase } from './base-policy.ts';

export type OneFlowOp = '>' | '>=' | '<' | '<=' | '==' | '!=';
export type OneFlowAdjustment =
  | { type: 'CHANGE'; adjust: number }
  | { type: 'CARDINALITY'; adjust: number }
  | { type: 'PERCENTAGE_CHANGE'; adjust: number; minAdjustStep?: number };

export interface OneFlowRule extends BaselineRuleBase {
  strategy: 'oneflow-elasticity';
  /** The expression `<attribute> <op> <value>` (the attribute is this rule's metric). */
  op: OneFlowOp;
  value: number;
  adjustment: OneFlowAdjustment;
  /** period_number: evaluations in a row the expression must be true (the rule's `for`). */
}

function compare(a: number, op: OneFlowOp, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}

/** The attribute's mean as OneFlow's grammar computes it: ((total / n) * 100).round / 100.0. */
export function oneFlowMean(mean: number): number {
  return Math.round(mean * 100) / 100;
}

/**
 * calculate_new_cardinality: the role's new cardinality for `adj` from `cardinality`, within
 * [min_vms, max(cardinality, max_vms)] in the direction of the adjustment.
 */
export function oneFlowCardinality(adj: OneFlowAdjustment, cardinality: number, minVms: number, maxVms: number): number {
  let next: number;
  switch (adj.type) {
    case 'CHANGE':
      next = cardinality + adj.adjust;
      break;
    case 'CARDINALITY':
      next = adj.adjust;
      break;
    case 'PERCENTAGE_CHANGE': {
      const change = (cardinality * adj.adjust) / 100;
      const sign = change > 0 ? 1 : -1;
      const size = Math.abs(change) < 1 ? 1 : Math.trunc(Math.abs(change));
      next = cardinality + sign * Math.max(size, adj.minAdjustStep ?? 0);
      break;
    }
  }
  const max = Math.max(cardinality, maxVms);
  if (adj.adjust > 0 && next > max) next = max;
  else if (adj.adjust < 0 && next < minVms) next = minVms;
  return next;
}

/** The rule's config with the bounds it adjusts within (baselinePolicy fills them in). */
export interface OneFlowRuleWithBounds extends OneFlowRule {
  minVms: number;
  maxVms: number;
}

export const oneFlowElasticity: Strategy<OneFlowRuleWithBounds> = ({ config: c, series, current }) => {
  if (series.length < c.for) return undefined;
  const evals = series.slice(series.length - c.for);
  // An attribute no VM reports makes the expression false ("instead of assuming a value of 0").
  if (!evals.every((v) => v !== null && compare(oneFlowMean(v), c.op, c.value))) return undefined;
  const desired = oneFlowCardinality(c.adjustment, current, c.minVms, c.maxVms);
  if (desired === current) return undefined;
  const means = evals.map((v) => oneFlowMean(v!)).join(', ');
  return { desired, reason: `${c.metric.toUpperCase()}[${oneFlowMean(evals[evals.length - 1]!)}] ${c.op} ${c.value} for ${c.for} evaluations (${means}): ${c.adjustment.type} ${c.adjustment.adjust}` };
};

export function oneFlowPolicy(like: Policy, o: { highCpu?: number; lowCpu?: number } = {}): Policy {
  const rule = (name: string, op: OneFlowOp, value: number, adjust: number): OneFlowRuleWithBounds => ({
    name,
    strategy: 'oneflow-elasticity',
    metric: 'cpu',
    aggregate: 'mean',
    // The documentation's example policy: period_number 3, period 10 s; with a period shorter
    // than the autoscaler interval a policy is evaluated at each pass, every 90 s.
    for: 3,
    op,
    value,
    adjustment: { type: 'CHANGE', adjust },
    minVms: like.min,
    maxVms: like.max,
  });
  return baselinePolicy(like, 'oneflow', {
    intervalMs: 90_000,
    // The service is SCALING until the new VMs run or the old ones are gone, then in COOLDOWN.
    whileBooting: 'hold',
    // COOLDOWN is a state of the whole service: no scaling of any kind during it.
    peer: { cooldownAfterAny: true },
    scaleOutCooldownMs: 300_000,
    scaleInCooldownMs: 300_000,
    rules: [rule('scale-up', '>', o.highCpu ?? 70, +1), rule('scale-down', '<', o.lowCpu ?? 30, -1)],
  });
}
