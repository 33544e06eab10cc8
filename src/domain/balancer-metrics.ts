// The metrics a pool's balancer measures of each guest (`source: balancer` in a rule), and how
// they are keyed in a sample: `balancer:<name>`, so they never collide with what a guest reports
// under the same name (its own `rps`, `inflight`). Plain data, shared by the balancer metrics
// source (which fills them in) and the decision core (which reads them, also to tell a
// saturated guest from a silent one).

export const BALANCER_SAMPLE_PREFIX = 'balancer:';

export interface BalancerMetricInfo {
  name: string;
  /** Unit suffix in reasons and messages. */
  unit: string;
  what: string;
}

export const BALANCER_METRICS = Object.freeze([
  { name: 'rps', unit: '', what: 'requests per second the balancer sent the guest' },
  { name: 'inflight', unit: '', what: 'requests in flight at the guest, mean over the interval (time-weighted)' },
  { name: 'queue_ms', unit: 'ms', what: 'mean time requests waited in the balancer for a connection to the guest' },
  { name: 'latency_p95_ms', unit: 'ms', what: '95th percentile of the time to the guest\'s response headers (0 without requests)' },
  { name: 'http_5xx_ratio', unit: '', what: 'share of the guest\'s answers that were 5xx, including the balancer\'s 502/504 for it (0 without requests)' },
] as const satisfies readonly BalancerMetricInfo[]);

export type BalancerMetricName = (typeof BALANCER_METRICS)[number]['name'];

export const balancerSampleKey = (name: string): string => `${BALANCER_SAMPLE_PREFIX}${name}`;

// Built once: servedTraffic() runs per guest and tick, and a key built per call costs a
// concatenation and a hash each time.
const BALANCER_RPS_KEY = balancerSampleKey('rps');
const BALANCER_INFLIGHT_KEY = balancerSampleKey('inflight');

/** The balancer sent the guest requests in this tick, or some are in flight there: it serves. */
export function servedTraffic(values: Readonly<Record<string, number>> | undefined): boolean {
  if (values === undefined) return false;
  return (values[BALANCER_RPS_KEY] ?? 0) > 0 || (values[BALANCER_INFLIGHT_KEY] ?? 0) > 0;
}
