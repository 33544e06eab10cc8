// What the balancer sees of each guest, as a metrics source (`source: balancer` in a rule):
// requests per second it sent, mean requests in flight, mean queue time, p95 latency and the
// share of 5xx answers, each over the interval since the previous sample of that guest. These
// are there even when a guest is too busy to answer its own metrics endpoint, which is when
// they matter most.
//
// Values are keyed `balancer:<metric>` (domain/balancer-metrics.ts) so they never collide with
// what the guest reports under the same name. The first sample of a guest only remembers its
// counters (no interval yet); a backend re-added with fresh counters starts over the same way.
import { balancerSampleKey, type BalancerMetricName } from '../../domain/balancer-metrics.ts';
import type { Guest, MetricValues } from '../../domain/types.ts';
import { GridhostError } from '../../errors/errors.ts';
import type { Balancer, ServingStats } from '../balancer/balancer.ts';
import { histogramCount, histogramDelta, histogramQuantile, responsesTotal } from '../balancer/serving-stats.ts';
import type { MetricsSource } from './metrics-source.ts';

const balancerKey = (m: BalancerMetricName): string => balancerSampleKey(m);

interface Seen {
  at: number;
  address: string;
  stats: ServingStats;
}

/**
 * Pure: a guest's balancer values over the interval between two snapshots of its counters.
 * Undefined when there is no interval to measure (first sight, counters restarted, no time).
 * In an interval without requests, queue time, p95 latency and the 5xx share are 0: nothing
 * waited, nothing was slow, nothing failed.
 */
export function balancerValues(prev: ServingStats, cur: ServingStats, dtMs: number): MetricValues | undefined {
  if (!(dtMs > 0) || cur.requests < prev.requests) return undefined;
  const dt = dtMs / 1000;
  const out: MetricValues = {};
  out[balancerKey('rps')] = (cur.requests - prev.requests) / dt;
  out[balancerKey('inflight')] = cur.inFlightSeconds !== undefined && prev.inFlightSeconds !== undefined
    ? Math.max(0, (cur.inFlightSeconds - prev.inFlightSeconds) / dt)
    : cur.inFlight;
  const q = cur.queueTime ? histogramDelta(cur.queueTime, prev.queueTime) : undefined;
  const qn = q ? histogramCount(q) : 0;
  out[balancerKey('queue_ms')] = q && qn > 0 ? (q.sum / qn) * 1000 : 0;
  if (cur.latency !== undefined) {
    const lat = histogramDelta(cur.latency, prev.latency);
    if (lat === undefined) return undefined; // buckets changed or counters restarted
    out[balancerKey('latency_p95_ms')] = (histogramQuantile(lat, 0.95) ?? 0) * 1000;
  }
  const answered = responsesTotal(cur.responses) - responsesTotal(prev.responses);
  const failed = cur.responses['5xx'] - prev.responses['5xx'];
  out[balancerKey('http_5xx_ratio')] = answered > 0 ? Math.max(0, failed) / answered : 0;
  return out;
}

export interface BalancerSourceOptions {
  /** Wall clock in ms (injectable for tests). */
  now?: () => number;
}

export class BalancerSource implements MetricsSource {
  readonly name = 'balancer';
  private readonly now: () => number;
  /** pool -> guest id -> its counters at the previous sample. */
  private readonly seen = new Map<string, Map<string, Seen>>();

  constructor(private readonly balancer: Balancer, opts: BalancerSourceOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    const out = new Map<string, MetricValues>();
    const byPool = new Map<string, Set<string>>();
    for (const g of guests) {
      let ids = byPool.get(g.pool);
      if (!ids) byPool.set(g.pool, (ids = new Set()));
      ids.add(g.id);
    }
    let failures = 0;
    let firstError: unknown;
    for (const [pool, wanted] of byPool) {
      let snap;
      try {
        snap = await this.balancer.serving(pool);
      } catch (e) {
        failures++;
        firstError ??= e;
        continue;
      }
      const at = this.now();
      const before = this.seen.get(pool) ?? new Map<string, Seen>();
      const next = new Map<string, Seen>();
      for (const b of snap.backends) {
        if (!wanted.has(b.id)) continue;
        next.set(b.id, { at, address: b.address, stats: b.stats });
        const prev = before.get(b.id);
        if (prev === undefined || prev.address !== b.address) continue;
        const v = balancerValues(prev.stats, b.stats, at - prev.at);
        if (v !== undefined) out.set(b.id, v);
      }
      // Guests no longer asked about are forgotten, so a re-used id starts afresh.
      this.seen.set(pool, next);
    }
    if (byPool.size > 0 && failures === byPool.size) {
      const msg = firstError instanceof Error ? firstError.message : String(firstError);
      throw new GridhostError('GH_HOST_UNREACHABLE', `balancer ${this.balancer.name} gave no serving figures: ${msg}`, {}, { cause: firstError });
    }
    return out;
  }

  async close(): Promise<void> {
    this.seen.clear();
  }
}
