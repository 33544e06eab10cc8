// Pure helpers over the serving figures every balancer reports (balancer.ts): empty figures,
// the change between two snapshots, quantiles of a histogram, and whether a pool can serve.
import { STATUS_CLASSES, type DurationHistogram, type PoolServing, type ServingStats, type StatusClass } from './balancer.ts';

export function emptyStats(): ServingStats {
  return { requests: 0, responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, upstreamErrors: 0, upstreamTimeouts: 0, inFlight: 0, queued: 0 };
}

export function histogramCount(h: DurationHistogram): number {
  let n = 0;
  for (const c of h.counts) n += c;
  return n;
}

/** `later - earlier` bucket by bucket; undefined when the buckets differ or a count went down
 *  (the backend was re-added: the counters restarted). */
export function histogramDelta(later: DurationHistogram, earlier: DurationHistogram | undefined): DurationHistogram | undefined {
  if (earlier === undefined) return later;
  if (later.bounds.length !== earlier.bounds.length || later.bounds.some((b, i) => b !== earlier.bounds[i])) return undefined;
  const counts = later.counts.map((c, i) => c - (earlier.counts[i] ?? 0));
  if (counts.some((c) => c < 0)) return undefined;
  return { bounds: later.bounds, counts, sum: later.sum - earlier.sum };
}

/**
 * The q-quantile (0 < q < 1) of a histogram in seconds, interpolated linearly inside the bucket
 * as Prometheus' histogram_quantile() does; a quantile in the +Inf bucket is the highest finite
 * bound. Undefined for an empty histogram.
 */
export function histogramQuantile(h: DurationHistogram, q: number): number | undefined {
  const total = histogramCount(h);
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (seen + c >= rank && c > 0) {
      if (i >= h.bounds.length) return h.bounds[h.bounds.length - 1] ?? 0;
      const lower = i === 0 ? 0 : h.bounds[i - 1]!;
      const upper = h.bounds[i]!;
      return lower + ((upper - lower) * (rank - seen)) / c;
    }
    seen += c;
  }
  return h.bounds[h.bounds.length - 1] ?? 0;
}

export function responsesTotal(r: Record<StatusClass, number>): number {
  let n = 0;
  for (const c of STATUS_CLASSES) n += r[c];
  return n;
}

export interface ServingState {
  /** A client request would reach a backend now (healthy, or any proven one in fail-open). */
  serving: boolean;
  failOpen: boolean;
  healthy: number;
  backends: number;
  /** Why the pool does not serve normally; absent when it does. */
  reason?: string;
}

/** Whether a pool serves, and if not why, from one serving() snapshot. */
export function servingState(s: PoolServing): ServingState {
  const ready = s.backends.filter((b) => b.admin === 'ready');
  const healthy = ready.filter((b) => b.healthy).length;
  const base = { failOpen: s.failOpen, healthy, backends: s.backends.length };
  if (healthy > 0 && !s.failOpen) return { serving: true, ...base };
  if (s.failOpen) {
    return { serving: true, ...base, reason: `fail-open: ${healthy} of ${ready.length} ready backends pass their health check, so requests go to all of them` };
  }
  if (s.backends.length === 0) return { serving: false, ...base, reason: 'no backend is registered: clients get 503' };
  const why = ready.length === 0
    ? `all ${s.backends.length} backends are draining`
    : ready.map((b) => `${b.id}: ${b.lastCheck ? `${b.lastCheck.ok ? 'passed' : 'failed'} (${b.lastCheck.detail})` : 'not checked yet'}`).join('; ');
  return { serving: false, ...base, reason: `no healthy backend, clients get 503: ${why}` };
}
