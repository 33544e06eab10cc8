// Prometheus HTTP service discovery (http_sd_configs) of the guests gridhost runs: one target
// group per serving guest, labelled with its pool and id, scraped on its policy's metrics_path.
// This is how a Prometheus that rules query (`source: prometheus`) finds guests that come and
// go; deploy/prometheus/prometheus.yml has the job. Guests reached through a dom0's SSH
// connection are listed too: their address is only reachable where that network is routed.
import { SERVING_STATES, type Guest } from '../domain/types.ts';
import type { Store } from '../store/store.ts';

/** One http_sd target group (https://prometheus.io/docs/prometheus/latest/http_sd/). */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** Pure: the target groups of `guests`; `metricsPath(pool)` is the pool's metrics_path, if managed. */
export function targetGroups(guests: readonly Guest[], metricsPath: (pool: string) => string | undefined): TargetGroup[] {
  return guests
    .filter((g) => g.address !== undefined && g.address !== '')
    .sort((a, b) => (a.pool === b.pool ? (a.id < b.id ? -1 : 1) : a.pool < b.pool ? -1 : 1))
    .map((g) => {
      const path = metricsPath(g.pool);
      return { targets: [g.address!], labels: { pool: g.pool, guest: g.id, ...(g.host !== '' ? { host: g.host } : {}), ...(path !== undefined ? { __metrics_path__: path } : {}) } };
    });
}

export async function scrapeTargets(store: Store, metricsPath: (pool: string) => string | undefined): Promise<TargetGroup[]> {
  return targetGroups(await store.listGuests({ states: SERVING_STATES }), metricsPath);
}
