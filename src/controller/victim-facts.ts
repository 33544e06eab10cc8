// What the victim choice (decision/pick-victims.ts) knows about a pool's guests beyond their
// records: the balancer's requests in flight and failing health checks. Read fresh for each
// scale-in, so the choice is made from the pool as it is when it shrinks.
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import type { VictimFacts } from '../decision/pick-victims.ts';

/** Pure: the facts the balancer's backend list gives. A backend the balancer does not know is
 *  neither unhealthy nor idle: it is left out of both. */
export function factsFromBackends(backends: readonly { id: string; healthy: boolean; active: number }[], guests: readonly Guest[]): VictimFacts {
  const ids = new Set(guests.map((g) => g.id));
  const inflight: Record<string, number> = {};
  const unhealthy: string[] = [];
  for (const b of backends) {
    if (!ids.has(b.id)) continue;
    inflight[b.id] = b.active;
    if (!b.healthy) unhealthy.push(b.id);
  }
  return { inflight, unhealthy };
}

/** Victim facts read from the balancer. */
export function balancerVictimFacts(balancer: Balancer): (policy: Policy, guests: readonly Guest[]) => Promise<VictimFacts> {
  return async (policy, guests) => factsFromBackends(await balancer.list(policy.pool), guests);
}
