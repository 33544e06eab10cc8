// Builds each rule's aggregated series (one value per tick, oldest first) from the raw samples.
// Only warmed-up healthy guests count: a guest is eligible for a tick when it is healthy now and
// healthyAt + warmupMs <= tick time. Booting, cloning and draining guests never count (warm-up rule);
// a guest that is gone is not in the view, so its old samples drop out too.
import type { Policy, Rule } from '../domain/policy.ts';
import type { PoolSample } from '../domain/types.ts';
import type { PoolView } from './decide-types.ts';

export interface RuleSeries {
  /** Aggregated value per tick; null when no eligible guest reported the metric. */
  series: (number | null)[];
  /** Eligible guests that reported the metric in the latest tick. */
  ready: number;
}

export interface Aggregated {
  /** Rule name -> its series. */
  rules: Record<string, RuleSeries>;
  /** Per tick (aligned with each series): guests eligible by state and warm-up, reported or not.
   *  Lets the caller tell "no guest was warmed up" apart from "guests did not report". */
  eligible: number[];
  /** Eligible guests in the latest tick (0 without samples). */
  ready: number;
}

export interface AggregateOptions {
  /** Only aggregate the last `ticks` samples (decide() needs no more than the longest `for`). */
  ticks?: number;
}

export function aggregateSeries(policy: Policy, view: PoolView, options: AggregateOptions = {}): Aggregated {
  // guest id -> first tick time at which it may count
  const eligibleFrom: { id: string; from: number }[] = [];
  for (const g of view.guests) {
    if (g.state === 'healthy' && g.healthyAt !== undefined) eligibleFrom.push({ id: g.id, from: g.healthyAt + policy.warmupMs });
  }
  const all = view.samples;
  const start = options.ticks === undefined ? 0 : Math.max(0, all.length - options.ticks);
  const ticks = all.slice(start);

  const eligible: number[] = new Array(ticks.length);
  const rules: Record<string, RuleSeries> = {};
  for (const rule of policy.rules) rules[rule.name] = { series: new Array(ticks.length), ready: 0 };

  const ids: string[] = [];
  for (let t = 0; t < ticks.length; t++) {
    const tick = ticks[t]!;
    ids.length = 0;
    for (const e of eligibleFrom) if (e.from <= tick.at) ids.push(e.id);
    eligible[t] = ids.length;
    for (const rule of policy.rules) {
      const { value, count } = aggregateTick(tick, ids, rule);
      const rs = rules[rule.name]!;
      rs.series[t] = value;
      if (t === ticks.length - 1) rs.ready = count;
    }
  }
  return { rules, eligible, ready: ticks.length > 0 ? eligible[ticks.length - 1]! : 0 };
}

function aggregateTick(tick: PoolSample, ids: readonly string[], rule: Rule): { value: number | null; count: number } {
  let count = 0;
  let acc = 0;
  for (const id of ids) {
    const v = tick.guests[id]?.[rule.metric];
    if (v === undefined || !Number.isFinite(v)) continue;
    if (count === 0) acc = v;
    else if (rule.aggregate === 'max') acc = Math.max(acc, v);
    else acc += v;
    count++;
  }
  if (count === 0) return { value: null, count };
  return { value: rule.aggregate === 'mean' ? acc / count : acc, count };
}
