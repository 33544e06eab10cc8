// The warm pool's arithmetic (policy `warm_pool`): how many guests to make or trim, and which
// warm guest a scale-out takes. Pure; the pool loop's warm pool (controller/warm-pool.ts), the
// actuator, the API and the simulator share it.
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';

export interface WarmPoolCounts {
  /** The policy's warm_pool.size (0: none). */
  target: number;
  /** Made and paused, ready to take. */
  warm: number;
  /** Being made (clone, boot, health, pause). */
  warming: number;
}

export function warmPoolCounts(policy: Pick<Policy, 'warmPool'>, guests: readonly Pick<Guest, 'state'>[]): WarmPoolCounts {
  return {
    target: policy.warmPool?.size ?? 0,
    warm: guests.filter((g) => g.state === 'warm').length,
    warming: guests.filter((g) => g.state === 'warming').length,
  };
}

/** Oldest first, ties on the id: the order warm guests are taken and trimmed in, so none waits
 *  paused for ever (and the oldest, most likely made from an older template, goes first). */
const oldestFirst = (a: Guest, b: Guest): number => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * What keeps the warm pool at its target (`make`: guests to make now; `trim`: warm guests to retire):
 * guests being made count as coming (never made twice); warm guests above the target (a lowered
 * warm_pool.size, or none) are trimmed, oldest first. Guests still warming above the target are
 * left to finish and are trimmed once warm. `outdated` warm guests (made from another template
 * or base image) and warm guests on `closed` hosts (drain-host: the host must empty) are `stale`:
 * retired first, not counted, and made again; a guest warming on a closed host does not count
 * either (it is retired once warm).
 */
export function planWarmPool<G extends Guest>(target: number, guests: readonly G[], outdated: ReadonlySet<string> = new Set(), closed: ReadonlySet<string> = new Set()): { make: number; trim: G[] } {
  const all = guests.filter((g) => g.state === 'warm').sort(oldestFirst);
  const isStale = (g: G) => isStaleWarm(g, outdated, closed);
  const stale = all.filter(isStale);
  const warm = all.filter((g) => !isStale(g));
  const warming = guests.filter((g) => g.state === 'warming' && !closed.has(g.host)).length;
  const make = Math.max(0, target - warm.length - warming);
  const over = Math.max(0, warm.length + warming - target);
  return { make, trim: [...stale, ...warm.slice(0, Math.min(over, warm.length))] };
}

/** Whether a warm guest is stale: made from an old template or image, or on a closed host. */
export function isStaleWarm(g: Pick<Guest, 'id' | 'host'>, outdated: ReadonlySet<string>, closed: ReadonlySet<string>): boolean {
  return outdated.has(g.id) || closed.has(g.host);
}

/** The warm guests a scale-out of `n` takes, oldest first, leaving out `taken` (ids another
 *  scale-out is taking now); fewer when fewer are warm (the rest are launched cold). */
export function pickWarm<G extends Guest>(guests: readonly G[], n: number, taken: ReadonlySet<string> = new Set()): G[] {
  if (n <= 0) return [];
  return guests.filter((g) => g.state === 'warm' && !taken.has(g.id)).sort(oldestFirst).slice(0, n);
}
