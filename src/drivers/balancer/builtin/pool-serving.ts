// The builtin balancer's pool-level serving state: the snapshot serving() returns, and the
// re-assessment after every health or admin change (fail-open per panic.ts, and whether any
// backend can take a request at all), which says what changed as events for the logs.
import type { BackendServing, BalancerChange, PoolServing } from '../balancer.ts';
import { describePanic, panicView } from './panic.ts';
import type { ProxyPool } from './proxy.ts';

export interface ServingPool extends ProxyPool {
  panicThresholdPercent: number;
  /** Whether a request could reach a backend at the last change (for no-backend / serving events). */
  wasRoutable: boolean;
  failOpenEntered: number;
}

export function servingSnapshot(p: ServingPool): PoolServing {
  return {
    pool: p.name,
    frontend: p.stats.snapshot(),
    noBackend: p.noBackend,
    failOpen: p.failOpen,
    failOpenEntered: p.failOpenEntered,
    backends: p.backends.map((b): BackendServing => ({
      id: b.id,
      address: b.address,
      admin: b.admin,
      healthy: b.healthy,
      active: b.active,
      served: b.served,
      failed: b.failed,
      downs: b.downs,
      ...(b.lastCheck ? { lastCheck: { ...b.lastCheck } } : {}),
      ...(b.changedAt !== undefined ? { changedAt: b.changedAt } : {}),
      ...(b.servedAt !== undefined ? { servedAt: b.servedAt } : {}),
      stats: b.stats.snapshot(),
    })),
  };
}

/** Update `p.failOpen` and the routable flag from its backends; returns what changed. */
export function reassessPool(p: ServingPool): BalancerChange[] {
  const out: BalancerChange[] = [];
  const v = panicView(p.backends, p.panicThresholdPercent);
  if (v.failOpen !== p.failOpen) {
    p.failOpen = v.failOpen;
    if (v.failOpen) p.failOpenEntered++;
    out.push({
      kind: v.failOpen ? 'fail-open' : 'fail-open-over',
      pool: p.name,
      reason: v.failOpen
        ? `${describePanic(v, p.panicThresholdPercent)}: requests now go to all ${v.proven}, healthy or not`
        : `${describePanic(v, p.panicThresholdPercent)}: requests go to healthy backends only again`,
    });
  }
  const routable = v.routable > 0;
  if (routable !== p.wasRoutable) {
    p.wasRoutable = routable;
    const draining = p.backends.filter((b) => b.admin === 'drain').length;
    const booting = p.backends.filter((b) => b.admin === 'ready' && !b.proven && !b.healthy).length;
    out.push({
      kind: routable ? 'serving' : 'no-backend',
      pool: p.name,
      reason: routable
        ? `${v.routable} backend${v.routable === 1 ? '' : 's'} can take requests${v.failOpen ? ' (fail-open)' : ''}`
        : `no backend can take requests: clients get 503 (${p.backends.length} registered: ${v.healthy} healthy, ${booting} not yet passed a check, ${draining} draining)`,
    });
  }
  return out;
}
