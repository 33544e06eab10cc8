// A pool's sampling window, reduced once per sample, when it arrives, to what rules read: per
// tick and metric the sum, max and count over the guests eligible at that tick. Only warmed-up
// healthy guests are eligible: a guest counts when it is healthy and healthyAt + warmupMs <= tick
// time. Booting, cloning and draining guests never count (warm-up rule), and values of guests
// the pool does not know (gone, or never its own) are left out.
//
// The window is columnar (one array of numbers per column) and append-only: a new tick is pushed
// onto the columns, and a window is the range [start, end) of them, so appending or cutting old
// ticks copies nothing. Windows stay values: entries in a window's range are never changed, so an
// older window still reads what it read. This is a ring buffer whose wrap-around writes into
// fresh columns instead of over the oldest ticks (which an older window may still read): once
// the cut ticks at the front outnumber a quarter of the live ones (at least 8), or when an older
// window is extended a second time (a fork), the live ticks are copied into fresh columns with
// room for that many more, so appends until the next copy never regrow an array. A pool's window
// holds at most about 1.25 times its live ticks (each tick is copied about 4 times over its
// life), and a decision never re-reads raw samples. Plain data: JSON round-trips it
// (compactWindow() gives the smallest equal form, e.g. to store it).
//
// A guest that did not report a rule's metric in a tick while the balancer sent it traffic is
// saturated for that metric (too busy to answer its metrics endpoint), not silent: such guests
// are counted in the column saturatedKey(metric) (count = how many), so a rule can tell the two
// apart (saturated()).
import { BALANCER_SAMPLE_PREFIX, servedTraffic } from '../domain/balancer-metrics.ts';
import { sampleKeyOf } from '../domain/metric-catalogue.ts';
import type { Policy, Rule } from '../domain/policy.ts';
import type { Guest, PoolSample } from '../domain/types.ts';

/** One metric over the columns' ticks (aligned with TickWindow.at). count 0: no eligible guest
 *  reported it at that tick (its sum and max are then 0). */
export interface MetricColumns {
  sum: number[];
  max: number[];
  count: number[];
}

export interface TickWindow {
  /** The window is the ticks at column indexes [start, end), oldest first. */
  start: number;
  end: number;
  /** Tick times. */
  at: number[];
  /** Guests eligible at each tick by state and warm-up, reported or not: lets a rule tell "no
   *  guest was warmed up" apart from "guests did not report". */
  eligible: number[];
  /** A metric without columns was reported by no eligible guest in the window. */
  metrics: Record<string, MetricColumns>;
}

export function emptyWindow(): TickWindow {
  return { start: 0, end: 0, at: [], eligible: [], metrics: {} };
}

/** Ticks in the window. */
export function windowSize(w: TickWindow): number {
  return w.end - w.start;
}

/** Is `g` eligible for a tick at `at` (healthy and warmed up)? */
export function isEligible(policy: Policy, g: Guest, at: number): boolean {
  return g.state === 'healthy' && g.healthyAt !== undefined && g.healthyAt + policy.warmupMs <= at;
}

/** The same window in fresh columns holding only its own ticks. */
export function compactWindow(w: TickWindow): TickWindow {
  return rebase(w, 0);
}

/** Cut ticks tolerated at the front of the columns before the live ones are copied out: a
 *  quarter of the live ones, at least 8. */
export function slackOf(live: number): number {
  return Math.max(8, Math.ceil(live / 4));
}

/** `w` in fresh columns: its ticks at 0..live-1, with room for `room` more appends. */
function rebase(w: TickWindow, room: number): TickWindow {
  const live = w.end - w.start;
  const metrics: Record<string, MetricColumns> = {};
  for (const k in w.metrics) {
    const m = w.metrics[k]!;
    let any = false;
    for (let i = w.start; i < w.end; i++) {
      if (m.count[i]! > 0) {
        any = true;
        break;
      }
    }
    if (any) metrics[k] = { sum: copyOf(m.sum, w.start, live, room), max: copyOf(m.max, w.start, live, room), count: copyOf(m.count, w.start, live, room) };
  }
  return { start: 0, end: live, at: copyOf(w.at, w.start, live, room), eligible: copyOf(w.eligible, w.start, live, room), metrics };
}

/** `len` entries of `a` from `from`, in an array that holds `room` more before it regrows. */
function copyOf(a: readonly number[], from: number, len: number, room: number): number[] {
  if (room === 0) return a.slice(from, from + len);
  // Made with its final capacity, then cut to length: V8 keeps the capacity when what is cut is
  // less than half, so the next `room` pushes write in place.
  const out = new Array<number>(len + room);
  for (let i = 0; i < len; i++) out[i] = a[from + i]!;
  out.length = len;
  return out;
}

/** An all-zero column of `n` ticks (a metric first reported at tick n), with room like the others. */
function zeros(n: number, room: number): number[] {
  const out = new Array<number>(n + room).fill(0);
  out.length = n;
  return out;
}

/** The window without its ticks at or before time `t`: nothing is copied. */
export function windowAfter(w: TickWindow, t: number): TickWindow {
  let start = w.start;
  while (start < w.end && w.at[start]! <= t) start++;
  return start === w.start ? w : { start, end: w.end, at: w.at, eligible: w.eligible, metrics: w.metrics };
}

/** `w` with one more tick: one sample of the pool's `guests`, reduced. `w` itself is unchanged. */
export function appendSample(policy: Policy, w: TickWindow, guests: readonly Guest[], sample: PoolSample): TickWindow {
  // Columns may be extended in place only by the window that ends where they end; copied out
  // once the ticks cut at their front exceed the slack (see the top of this file).
  const live = w.end - w.start;
  const owned = w.at.length === w.end && w.start <= slackOf(live);
  const base = owned ? w : rebase(w, slackOf(live) + 2);
  const n = base.end;
  const metrics = base.metrics;
  let eligible = 0;
  const from = sample.at - policy.warmupMs;
  const watched = saturationWatched(policy);
  for (const g of guests) {
    // isEligible(policy, g, sample.at), inlined: this runs per guest and tick.
    if (g.state !== 'healthy' || g.healthyAt === undefined || g.healthyAt > from) continue;
    eligible++;
    const values = sample.guests[g.id];
    if (values === undefined) continue;
    for (const k in values) put(metrics, n, k, values[k]!);
    // Served traffic but did not report a rule's metric: count it as saturated for that metric.
    if (watched.length > 0 && servedTraffic(values)) {
      for (const w of watched) {
        const v = values[w.key];
        if (v === undefined || !Number.isFinite(v)) put(metrics, n, w.saturated, 1);
      }
    }
  }
  // A pool-wide value (a PromQL query's) is already the pool's: whatever the rule's aggregate,
  // it reads that one number (one count in the tick: its sum, max and mean are the value).
  const pool = sample.pool;
  if (pool !== undefined) for (const k in pool) put(metrics, n, k, pool[k]!);
  for (const k in metrics) {
    const m = metrics[k]!;
    if (m.count.length === n) {
      m.sum.push(0);
      m.max.push(0);
      m.count.push(0);
    }
  }
  base.at.push(sample.at);
  base.eligible.push(eligible);
  return { start: base.start, end: n + 1, at: base.at, eligible: base.eligible, metrics };
}

/** Add one guest's value `v` of `k` to the tick at column index `n`. */
function put(metrics: Record<string, MetricColumns>, n: number, k: string, v: number): void {
  if (!Number.isFinite(v)) return;
  let m = metrics[k];
  if (m === undefined) {
    // First reported now: no eligible guest reported it at the earlier ticks.
    const room = slackOf(n) + 2;
    m = metrics[k] = { sum: zeros(n, room), max: zeros(n, room), count: zeros(n, room) };
  }
  if (m.count.length === n) {
    m.sum.push(v);
    m.max.push(v);
    m.count.push(1);
  } else {
    m.sum[n] = m.sum[n]! + v;
    if (v > m.max[n]!) m.max[n] = v;
    m.count[n] = m.count[n]! + 1;
  }
}

/** Where the guests that served without reporting `key` are counted. */
export const saturatedKey = (key: string): string => {
  let k = SATURATED_KEYS.get(key);
  if (k === undefined) {
    k = `saturated:${key}`;
    if (SATURATED_KEYS.size >= KEY_CACHE_LIMIT) SATURATED_KEYS.clear();
    SATURATED_KEYS.set(key, k);
  }
  return k;
};

// Keys are asked for per guest, rule and tick: built once (a fresh string costs a concatenation
// and a hash at every lookup). Both caches depend only on their keys, so the core stays pure.
const KEY_CACHE_LIMIT = 10_000;
const SATURATED_KEYS = new Map<string, string>();
const WATCHED = new WeakMap<readonly Rule[], readonly { key: string; saturated: string }[]>();

/** The sample keys of the policy's rules a busy guest could fail to report (not the balancer's
 *  own, nor a PromQL query's pool-wide value), each with the key its saturated guests are counted under. */
function saturationWatched(policy: Policy): readonly { key: string; saturated: string }[] {
  const rules = policy.rules ?? [];
  let out = WATCHED.get(rules);
  if (out !== undefined) return out;
  const keys: string[] = [];
  for (const r of rules) {
    const k = sampleKeyOf(r);
    if (r.promql === undefined && !k.startsWith(BALANCER_SAMPLE_PREFIX) && !keys.includes(k)) keys.push(k);
  }
  out = keys.map((key) => ({ key, saturated: saturatedKey(key) }));
  WATCHED.set(rules, out);
  return out;
}

/** Guests that served traffic at column index `t` without reporting `key`: saturated, not silent.
 *  Never for the balancer's own metrics, which a guest cannot be too busy for. */
export function saturated(w: TickWindow, t: number, key: string): number {
  return w.metrics[saturatedKey(key)]?.count[t] ?? 0;
}

/** A window of the given samples (oldest first), as the pool's memory would have built it. */
export function windowOf(policy: Policy, guests: readonly Guest[], samples: readonly PoolSample[]): TickWindow {
  let w = emptyWindow();
  for (const s of samples) w = appendSample(policy, w, guests, s);
  return w;
}

/** A rule's value at column index `t` (its metric combined by its aggregate); null when no
 *  eligible guest reported it. The value sits under its source's sample key
 *  (domain/metric-catalogue.ts). */
export function ruleValue(w: TickWindow, t: number, rule: Pick<Rule, 'metric' | 'source' | 'aggregate'>): number | null {
  return columnValue(w.metrics[sampleKeyOf(rule)], t, rule.aggregate);
}

/** ruleValue() on a metric's columns, once a rule has looked them up (decide() does per rule,
 *  not per tick). */
export function columnValue(m: MetricColumns | undefined, t: number, aggregate: Rule['aggregate']): number | null {
  if (m === undefined) return null;
  const count = m.count[t]!;
  if (!(count > 0)) return null;
  switch (aggregate) {
    case 'mean':
      return m.sum[t]! / count;
    case 'max':
      return m.max[t]!;
    case 'sum':
      return m.sum[t]!;
  }
}

/** Eligible guests that reported the sample key `key` at column index `t` (0 outside the columns). */
export function reporters(w: TickWindow, t: number, key: string): number {
  return w.metrics[key]?.count[t] ?? 0;
}
