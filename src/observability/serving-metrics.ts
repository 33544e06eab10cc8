// The balancer's serving figures as Prometheus series, read from Balancer.serving() at scrape
// time (a collector, not counters kept here): whatever driver serves the pools, the same series
// come out, and a backend that is removed simply stops being exported. One serving() call per
// pool per scrape, shared by every series.
//
// Pool level (label pool): requests, responses by code class, upstream errors and timeouts,
// 503s for lack of a backend, in flight, latency histogram, fail-open state and count, and
// gridhost_pool_serving (0 = clients of the pool get 503: the alert). Backend level (labels
// pool, backend): the same counters, in flight, queued, latency and queue-time histograms,
// up (its health check) and how often it fell.
import type { Registry } from 'prom-client';
import { STATUS_CLASSES, type DurationHistogram, type PoolServing, type ServingStats } from '../drivers/balancer/balancer.ts';
import { servingState } from '../drivers/balancer/serving-stats.ts';

export interface ServingFigures {
  /** The pools to export. */
  pools(): readonly string[];
  serving(pool: string): Promise<PoolServing>;
}

type Labels = Record<string, string | number>;
interface Value {
  metricName?: string;
  labels: Labels;
  value: number;
}
type Kind = 'counter' | 'gauge' | 'histogram';

interface SeriesDef {
  name: string;
  help: string;
  type: Kind;
  values(snaps: readonly PoolServing[]): Value[];
}

const perPool = (f: (s: PoolServing) => number) => (snaps: readonly PoolServing[]): Value[] => snaps.map((s) => ({ labels: { pool: s.pool }, value: f(s) }));
const perBackend = (f: (b: ServingStats, s: PoolServing['backends'][number]) => number) => (snaps: readonly PoolServing[]): Value[] =>
  snaps.flatMap((s) => s.backends.map((b) => ({ labels: { pool: s.pool, backend: b.id }, value: f(b.stats, b) })));

function histogramValues(name: string, labels: Labels, h: DurationHistogram | undefined): Value[] {
  if (h === undefined) return [];
  const out: Value[] = [];
  let cumulative = 0;
  h.bounds.forEach((le, i) => {
    cumulative += h.counts[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
  });
  cumulative += h.counts[h.bounds.length] ?? 0;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: cumulative });
  return out;
}

function byClass(snaps: readonly PoolServing[], backend: boolean): Value[] {
  const out: Value[] = [];
  for (const s of snaps) {
    const rows = backend ? s.backends.map((b) => ({ labels: { pool: s.pool, backend: b.id }, stats: b.stats })) : [{ labels: { pool: s.pool }, stats: s.frontend }];
    for (const r of rows) for (const code of STATUS_CLASSES) out.push({ labels: { ...r.labels, code }, value: r.stats.responses[code] });
  }
  return out;
}

const SERIES: readonly SeriesDef[] = [
  { name: 'gridhost_balancer_requests_total', type: 'counter', help: 'Client requests the pool\'s front end received.', values: perPool((s) => s.frontend.requests) },
  { name: 'gridhost_balancer_responses_total', type: 'counter', help: 'Responses clients of the pool got, by status class (code="2xx"...), including the balancer\'s own 502/503/504.', values: (s) => byClass(s, false) },
  { name: 'gridhost_balancer_upstream_errors_total', type: 'counter', help: 'Tries a backend of the pool broke: connection refused or reset, response cut short.', values: perPool((s) => s.frontend.upstreamErrors) },
  { name: 'gridhost_balancer_upstream_timeouts_total', type: 'counter', help: 'Tries a backend of the pool did not begin answering within balancer.response_timeout (answered 504).', values: perPool((s) => s.frontend.upstreamTimeouts) },
  { name: 'gridhost_balancer_no_backend_total', type: 'counter', help: 'Requests answered 503 because no backend of the pool could take them.', values: perPool((s) => s.noBackend) },
  { name: 'gridhost_balancer_requests_in_flight', type: 'gauge', help: 'Client requests of the pool in flight now.', values: perPool((s) => s.frontend.inFlight) },
  {
    name: 'gridhost_balancer_request_duration_seconds', type: 'histogram', help: 'Time from a client request\'s arrival to its response headers, per pool.',
    values: (snaps) => snaps.flatMap((s) => histogramValues('gridhost_balancer_request_duration_seconds', { pool: s.pool }, s.frontend.latency)),
  },
  { name: 'gridhost_balancer_fail_open', type: 'gauge', help: '1 while the pool fails open: too few backends pass their checks (balancer.panic_threshold), so requests go to all of them.', values: perPool((s) => (s.failOpen ? 1 : 0)) },
  { name: 'gridhost_balancer_fail_open_total', type: 'counter', help: 'Times the pool began to fail open.', values: perPool((s) => s.failOpenEntered) },
  { name: 'gridhost_pool_serving', type: 'gauge', help: '1 while a client request of the pool reaches a backend; 0 while clients get 503 (alert on it).', values: perPool((s) => (servingState(s).serving ? 1 : 0)) },
  { name: 'gridhost_balancer_backend_requests_total', type: 'counter', help: 'Tries the balancer sent to the backend since it was added.', values: perBackend((b) => b.requests) },
  { name: 'gridhost_balancer_backend_responses_total', type: 'counter', help: 'Responses clients got from or because of the backend, by status class.', values: (s) => byClass(s, true) },
  { name: 'gridhost_balancer_backend_upstream_errors_total', type: 'counter', help: 'Tries the backend broke: connection refused or reset, response cut short.', values: perBackend((b) => b.upstreamErrors) },
  { name: 'gridhost_balancer_backend_upstream_timeouts_total', type: 'counter', help: 'Tries the backend did not begin answering within balancer.response_timeout.', values: perBackend((b) => b.upstreamTimeouts) },
  { name: 'gridhost_balancer_backend_requests_in_flight', type: 'gauge', help: 'Requests in flight to the backend now.', values: perBackend((b) => b.inFlight) },
  { name: 'gridhost_balancer_backend_requests_queued', type: 'gauge', help: 'Requests waiting in the balancer for a connection to the backend now.', values: perBackend((b) => b.queued) },
  {
    name: 'gridhost_balancer_backend_request_duration_seconds', type: 'histogram', help: 'Time from a try\'s start to the backend\'s response headers (or to giving up at response_timeout).',
    values: (snaps) => snaps.flatMap((s) => s.backends.flatMap((b) => histogramValues('gridhost_balancer_backend_request_duration_seconds', { pool: s.pool, backend: b.id }, b.stats.latency))),
  },
  {
    name: 'gridhost_balancer_backend_queue_duration_seconds', type: 'histogram', help: 'Time a try waited in the balancer for a connection to the backend.',
    values: (snaps) => snaps.flatMap((s) => s.backends.flatMap((b) => histogramValues('gridhost_balancer_backend_queue_duration_seconds', { pool: s.pool, backend: b.id }, b.stats.queueTime))),
  },
  { name: 'gridhost_balancer_backend_up', type: 'gauge', help: '1 while the backend passes the balancer\'s health check, 0 while it does not.', values: perBackend((_b, x) => (x.healthy ? 1 : 0)) },
  { name: 'gridhost_balancer_backend_downs_total', type: 'counter', help: 'Times the backend failed its health check `fall` times in a row after passing it.', values: perBackend((_b, x) => x.downs) },
];

export interface ServingMetrics {
  /** Where the figures come from (the balancer); until then the series are declared but empty.
   *  A pool whose figures cannot be read (its front end is being replaced, the balancer is
   *  unreachable) is left out of that scrape; `onError` hears about it. */
  attach(figures: ServingFigures, onError?: (pool: string, err: unknown) => void): void;
}

/** Register the serving series in `registry` (createMetrics does). */
export function registerServingMetrics(registry: Registry): ServingMetrics {
  let figures: ServingFigures | undefined;
  let onError: ((pool: string, err: unknown) => void) | undefined;
  let current: Promise<PoolServing[]> | undefined;
  // Every series of one scrape is asked for in the same tick: they share one read.
  const snapshot = (): Promise<PoolServing[]> => {
    const f = figures;
    if (f === undefined) return Promise.resolve([]);
    if (current === undefined) {
      current = Promise.all(f.pools().map((pool) => f.serving(pool).catch((e: unknown) => {
        onError?.(pool, e);
        return undefined;
      }))).then((xs) => xs.filter((x): x is PoolServing => x !== undefined));
      setImmediate(() => { current = undefined; });
    }
    return current;
  };
  for (const def of SERIES) {
    const metric = {
      name: def.name,
      help: def.help,
      type: def.type,
      aggregator: 'sum',
      get: async () => ({ name: def.name, help: def.help, type: def.type, aggregator: 'sum', values: def.values(await snapshot()) }),
    };
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }
  return {
    attach(f, e) {
      figures = f;
      onError = e;
    },
  };
}
