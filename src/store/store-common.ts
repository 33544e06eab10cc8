// Semantics every Store implementation shares, kept in one place so SQLite, MongoDB and the
// memory fake cannot drift apart.
import { GridhostError } from '../errors/errors.ts';
import type { Guest, GuestState, PoolSample, ScaleEvent } from '../domain/types.ts';
import type { PoolHistoryEntry, PoolRecord } from './store.ts';

export const DEFAULT_EVENT_LIMIT = 100;
export const MAX_EVENT_LIMIT = 1000;

/** States pruneHistory may delete: the guest's clone and domain are already cleaned up. */
export const FINISHED_STATES: readonly GuestState[] = ['gone', 'failed'];

/** Default 100, clamped to 1..1000; fractions round down. */
export function clampEventLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_EVENT_LIMIT;
  return Math.min(MAX_EVENT_LIMIT, Math.max(1, Math.floor(limit)));
}

export function storeError(store: string, message: string, details: Record<string, unknown> = {}): GridhostError {
  return new GridhostError('GH_STORE_FAILED', `store operation failed (${store}): ${message}`, details);
}

/** A compare-and-set that found another version (or a create that found the record). */
export function staleWrite(store: string, what: string, id: string, expected: number | undefined, found: number | undefined): GridhostError {
  const exp = expected === undefined ? 'no record (a create)' : `version ${expected}`;
  const got = found === undefined ? 'no record' : `version ${found}`;
  return new GridhostError('GH_STALE_WRITE', `${what} ${id}: write refused, expected ${exp} but the store has ${got} (${store}); re-read it and decide again`, {
    [what]: id, expected, found,
  });
}

/** A write whose fencing token is not the pool's current lease token. */
export function fenced(store: string, pool: string, token: number, current: number | undefined): GridhostError {
  return new GridhostError('GH_FENCED', `pool ${pool}: write with fencing token ${token} refused, the pool's lease token is ${current ?? 'none'} (${store}); another gridhost leads it now`, {
    pool, token, current,
  });
}

export function leaseLost(store: string, pool: string, holder: string, token: number, current: { holder: string; token: number } | undefined): GridhostError {
  return new GridhostError('GH_LEASE_LOST', `pool ${pool}: lease ${token} of ${holder} is gone (${store}: ${current ? `held by ${current.holder} with token ${current.token}` : 'no lease'})`, {
    pool, holder, token, current,
  });
}

/** Guests are listed by pool, then creation time, then id: stable across implementations. */
export function compareGuests(a: Guest, b: Guest): number {
  if (a.pool !== b.pool) return a.pool < b.pool ? -1 : 1;
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Copy of the value without keys whose value is undefined (JSON and BSON drop them anyway). */
export function withoutUndefined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

export type { Guest, PoolHistoryEntry, PoolRecord, PoolSample, ScaleEvent };
