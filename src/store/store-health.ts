// Store health as gridhost sees it: a decorator that watches every write (and read) for
// GH_STORE_FAILED. While the last write failed, the store is "down": /healthz says degraded
// with the reason, gridhost_store_up is 0, and no pool acts (its loop cannot write its record,
// leases cannot be renewed). The next write that succeeds (the leader heartbeat retries every
// few seconds) ends the outage by itself.
import { GridhostError } from '../errors/errors.ts';
import type { Store } from './store.ts';

const WRITES = new Set<keyof Store>([
  'savePool', 'saveHost', 'saveGuest', 'appendEvent', 'updateEvent', 'acquireLease', 'renewLease', 'releaseLease',
  'heartbeat', 'removeMember', 'appendHistory', 'appendSample', 'pruneSamples', 'pruneHistory',
]);

export interface StoreHealth {
  up: boolean;
  /** Why it is down (the last failed write's message), when it is. */
  reason?: string;
  /** Since when (epoch ms) it is in its current state. */
  since: number;
}

export function trackStoreHealth(store: Store, now: () => number = Date.now, onChange?: (h: StoreHealth) => void): { store: Store; health: () => StoreHealth } {
  let health: StoreHealth = { up: true, since: now() };
  const set = (up: boolean, reason?: string) => {
    if (health.up === up && health.reason === reason) return;
    const changed = health.up !== up;
    health = up ? { up, since: changed ? now() : health.since } : { up, reason, since: changed ? now() : health.since };
    if (changed) onChange?.(health);
  };
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || prop === 'close') return v;
      const isWrite = WRITES.has(prop as keyof Store);
      return async (...args: unknown[]) => {
        try {
          const r = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (isWrite) set(true);
          return r;
        } catch (e) {
          // Only a store that cannot do the work is down; a refused compare-and-set or a stale
          // token is the store working as it should.
          if (e instanceof GridhostError && e.code === 'GH_STORE_FAILED') set(false, e.message);
          else if (isWrite) set(true);
          throw e;
        }
      };
    },
  });
  return { store: wrapped, health: () => ({ ...health }) };
}
