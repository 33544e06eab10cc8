// Read models for the API: what an operator wants to see about a pool, assembled from the
// store (durable facts) and the pool loop (live samples, last decision, breaker).
import type { Store } from '../store/store.ts';
import type { Orchestrator } from '../controller/orchestrator.ts';
import { boundsAt } from '../decision/schedule.ts';
import { cooldownRemaining } from '../decision/decide.ts';
import { GUEST_STATES, type Guest, type GuestState } from '../domain/types.ts';

export interface PoolSummary {
  pool: string;
  managed: boolean;
  file?: string;
  size: number;
  desired?: number;
  min?: number;
  max?: number;
  guests: Partial<Record<GuestState, number>>;
  lastDecision?: { at: string; direction: string; from: number; to: number; reason: string };
}

const LIVE: GuestState[] = ['cloning', 'booting', 'healthy', 'draining', 'stopping'];

function countByState(guests: readonly Guest[]): Partial<Record<GuestState, number>> {
  const out: Partial<Record<GuestState, number>> = {};
  for (const g of guests) out[g.state] = (out[g.state] ?? 0) + 1;
  return out;
}

export async function summarizePools(store: Store, orch: Orchestrator, now: number): Promise<PoolSummary[]> {
  const records = await store.listPools();
  const names = new Set([...records.map((r) => r.pool), ...orch.managedPools()]);
  const out: PoolSummary[] = [];
  for (const pool of [...names].sort()) {
    const rec = records.find((r) => r.pool === pool);
    const st = orch.status(pool);
    const guests = await store.listGuests({ pool, states: LIVE });
    const b = st ? boundsAt(st.policy, now) : undefined;
    out.push({
      pool,
      managed: st !== undefined,
      file: st?.policy.file ?? rec?.file,
      size: guests.filter((g) => g.state === 'cloning' || g.state === 'booting' || g.state === 'healthy').length,
      desired: st?.lastDecision?.to ?? rec?.desired,
      min: b?.min,
      max: b?.max,
      guests: countByState(guests),
      lastDecision: st?.lastDecision && {
        at: new Date(st.lastDecision.at).toISOString(),
        direction: st.lastDecision.direction,
        from: st.lastDecision.from,
        to: st.lastDecision.to,
        reason: st.lastDecision.reason,
      },
    });
  }
  return out;
}

export async function describePool(store: Store, orch: Orchestrator, pool: string, now: number) {
  const rec = await store.getPool(pool);
  const st = orch.status(pool);
  if (!rec && !st) return undefined;
  const guests = await store.listGuests({ pool, states: LIVE });
  const base = {
    pool,
    managed: st !== undefined,
    file: st?.policy.file ?? rec?.file,
    guests: guests.map((g) => ({
      id: g.id, state: g.state, host: g.host, address: g.address, driver: g.driver,
      createdAt: new Date(g.createdAt).toISOString(),
      healthyAt: g.healthyAt === undefined ? undefined : new Date(g.healthyAt).toISOString(),
    })),
    counts: Object.fromEntries(GUEST_STATES.map((s) => [s, guests.filter((g) => g.state === s).length])),
    backends: await orch.backends(pool),
  };
  if (!st) return base;
  const b = boundsAt(st.policy, now);
  const cd = cooldownRemaining(st.policy, {
    guests, samples: st.samples, lastScaleOutAt: rec?.lastScaleOutAt, lastScaleInAt: rec?.lastScaleInAt, recommendations: [],
  }, now);
  return {
    ...base,
    loop: { state: st.state, acting: st.acting },
    bounds: { min: b.min, max: b.max, schedules: b.active, policyMin: st.policy.min, policyMax: st.policy.max },
    cooldownRemainingMs: { scaleOut: cd.scaleOutMs, scaleIn: cd.scaleInMs },
    breaker: st.breaker,
    lastDecision: st.lastDecision,
    samples: st.samples.slice(-20).map((s) => ({ at: new Date(s.at).toISOString(), guests: s.guests })),
  };
}
