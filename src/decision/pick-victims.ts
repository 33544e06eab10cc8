// Which guests a scale-in retires. Pure, and shared by the actuator and the simulator so both
// retire the same guests.
//
// Guests the balancer's health check fails go first, then guests made from another template or
// base image than the pool's current one (a rollout would replace them anyway), then the rest;
// within each group the policy's `scale_in.victims` order decides (Senlin's deletion criteria,
// AWS's termination policies):
//  - newest (default): the youngest guest (least warm cache, least history);
//  - oldest: the longest-running guest;
//  - least-busy: the fewest requests in flight (unknown counts as busiest), then newest;
//  - spread: a guest on the host that has the most of the pool's guests left, then newest, so
//    the pool stays balanced over dom0 hosts.
// Ties end on the id, so the choice is stable.
import type { VictimOrder } from '../domain/policy.ts';
import { GUEST_STATE_FACTS, type Guest } from '../domain/types.ts';

export type { VictimOrder } from '../domain/policy.ts';

/** What the victim choice may know about guests beyond their records. Plain data. */
export interface VictimFacts {
  /** Requests in flight per guest id (the balancer's count; the simulator's estimate). */
  inflight?: Readonly<Record<string, number>>;
  /** Guests whose balancer health check fails now. */
  unhealthy?: readonly string[];
  /** Guests made from another template or base image than the pool's current one. */
  outdated?: readonly string[];
}

export interface VictimOptions {
  order?: VictimOrder;
  facts?: VictimFacts;
}

/** The `n` guests to retire, in the order they should go. Only healthy guests are candidates. */
export function pickVictims<G extends Guest>(guests: readonly G[], n: number, opts: VictimOptions = {}): G[] {
  const order = opts.order ?? 'newest';
  const facts = opts.facts ?? {};
  const unhealthy = new Set(facts.unhealthy ?? []);
  const outdated = new Set(facts.outdated ?? []);
  const rank = (g: G): number => (unhealthy.has(g.id) ? 0 : outdated.has(g.id) ? 1 : 2);
  const busy = (g: G): number => facts.inflight?.[g.id] ?? Infinity;
  // Guests each host keeps of the pool (counted ones: a booting guest will serve there too).
  const perHost = new Map<string, number>();
  for (const g of guests) if (GUEST_STATE_FACTS[g.state].counted) perHost.set(g.host, (perHost.get(g.host) ?? 0) + 1);

  const newestFirst = (a: G, b: G): number => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
  const compare = (a: G, b: G): number => {
    const r = rank(a) - rank(b);
    if (r !== 0) return r;
    switch (order) {
      case 'newest':
        return newestFirst(a, b);
      case 'oldest':
        return -newestFirst(a, b);
      case 'least-busy': {
        const ba = busy(a);
        const bb = busy(b);
        return ba === bb ? newestFirst(a, b) : ba < bb ? -1 : 1;
      }
      case 'spread':
        return (perHost.get(b.host) ?? 0) - (perHost.get(a.host) ?? 0) || newestFirst(a, b);
    }
  };

  const left = guests.filter((g) => g.state === 'healthy');
  const out: G[] = [];
  // One at a time: spread depends on what has been picked already.
  while (out.length < n && left.length > 0) {
    let best = 0;
    for (let i = 1; i < left.length; i++) if (compare(left[i]!, left[best]!) < 0) best = i;
    const [g] = left.splice(best, 1) as [G];
    out.push(g);
    perHost.set(g.host, (perHost.get(g.host) ?? 1) - 1);
  }
  return out;
}
