// Which hosts are closed (drain-host) and which of a pool's guests must leave them. Pure, shared
// by placement (guest-lifecycle.ts), the evacuation (controller/evacuation.ts) and the API.
import { GUEST_STATE_FACTS, type Guest } from '../domain/types.ts';
import type { HostRecord } from '../store/store.ts';

/** The hosts these records close (drained), by name. */
export function closedHostsOf(records: readonly Pick<HostRecord, 'host' | 'drain'>[]): Set<string> {
  return new Set(records.filter((h) => h.drain !== undefined).map((h) => h.host));
}

/** The pool's counted guests on closed hosts, oldest first (ties on the id): they go first. */
export function guestsToEvacuate<G extends Guest>(guests: readonly G[], closed: ReadonlySet<string>): G[] {
  return guests
    .filter((g) => GUEST_STATE_FACTS[g.state].counted && closed.has(g.host))
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
