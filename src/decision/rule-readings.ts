// What each rule of a policy saw in a decision, next to what it compares with: the figures a
// dashboard plots and `gridhost explain` prints. Pure.
import type { Policy } from '../domain/policy.ts';
import type { Decision } from '../domain/types.ts';

export interface RuleReading {
  rule: string;
  metric: string;
  strategy: 'threshold' | 'target-tracking';
  /** The latest aggregated value the decision used (policy units: cpu in percent); absent when none. */
  value?: number;
  /** Target tracking: the per-guest target. */
  target?: number;
  /** Threshold: the bound crossed upwards / downwards. */
  above?: number;
  below?: number;
  /** The values the rule looked at, oldest first (its last `for` ticks that had a value). */
  series: number[];
}

export function ruleReadings(policy: Policy, decision: Decision): RuleReading[] {
  return policy.rules.map((rule) => {
    const series = decision.inputs.series[rule.name] ?? [];
    const base = { rule: rule.name, metric: rule.metric, strategy: rule.strategy, series: [...series], value: series.length > 0 ? series[series.length - 1] : undefined };
    if (rule.strategy === 'target-tracking') return { ...base, target: rule.target };
    return { ...base, ...(rule.above !== undefined ? { above: rule.above } : {}), ...(rule.below !== undefined ? { below: rule.below } : {}) };
  });
}
