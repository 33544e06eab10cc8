// Builds the Policy objects of the baseline autoscalers. Baselines use strategies that the YAML
// loader does not accept (they exist to be compared with, not deployed), so their policies are
// built here from a gridhost policy's pool, bounds and guest settings; nothing else carries over.
import type { PeerBehaviour, Policy, Rule, WhileBooting } from '../../domain/policy.ts';

/** A rule of a baseline strategy: the fields decide() reads from every rule, plus its config. */
export interface BaselineRuleBase {
  name: string;
  strategy: string;
  metric: string;
  aggregate: 'mean' | 'max' | 'sum';
  /** Ticks the strategy looks at (the aggregated series it receives is at least this long). */
  for: number;
}

export interface BaselineParts {
  /** Sampling (sync / evaluation / alarm period) interval. */
  intervalMs: number;
  /** What the peer does while guests are on their way up (see WhileBooting, PeerBehaviour). */
  whileBooting: WhileBooting;
  peer?: PeerBehaviour;
  scaleOutCooldownMs: number;
  scaleInCooldownMs: number;
  stabilizationMs?: number;
  warmupMs?: number;
  rules: (Rule | BaselineRuleBase)[];
}

export function baselinePolicy(like: Policy, name: string, parts: BaselineParts): Policy {
  const longest = parts.rules.reduce((m, r) => Math.max(m, r.for), 1);
  return {
    ...like,
    file: `baseline:${name}`,
    sampling: { intervalMs: parts.intervalMs, windowMs: Math.max(like.sampling.windowMs, longest * parts.intervalMs) },
    warmupMs: parts.warmupMs ?? 0,
    scaleOut: { cooldownMs: parts.scaleOutCooldownMs, whileBooting: parts.whileBooting },
    scaleIn: { cooldownMs: parts.scaleInCooldownMs, stabilizationMs: parts.stabilizationMs ?? 0, victims: 'newest' },
    onMissing: 'hold',
    unknownGuests: 'retire',
    // Baseline rules are not part of the YAML Rule union; decide() runs them through the registry.
    rules: parts.rules as Rule[],
    // Baselines scale on load only: no time-of-day schedules.
    schedules: [],
    ...(parts.peer !== undefined ? { peer: parts.peer } : {}),
  };
}

/** The last `n` values of a series, or undefined when fewer exist or any is missing. */
export function lastValues(series: readonly (number | null)[], n: number): number[] | undefined {
  if (n < 1 || series.length < n) return undefined;
  const out: number[] = [];
  for (let i = series.length - n; i < series.length; i++) {
    const v = series[i];
    if (v === null || v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
