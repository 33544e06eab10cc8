// Accepting signals for a pool (POST /api/pools/:pool/signal): they are written into the pool's
// record in the store with compare-and-set, so any gridhost process may accept them, whether
// it leads the pool or not; the leader serves them at its next tick (pool-loop.ts). No fence:
// the write changes only `signals` and keeps what the leader wrote (a write in between is
// redone from the fresh record), and a deposed leader's stale record cannot overwrite it (its
// own compare-and-set fails and it re-reads).
import { DEFAULT_WEBHOOK, type Policy } from '../domain/policy.ts';
import { acceptSignals as acceptIntoBook, pendingFor, type SignalEntry, type SignalOffer } from '../decision/signal-book.ts';
import type { Store } from '../store/store.ts';
import { savePoolWith } from './save-pool-with.ts';

export interface IntakeResult {
  accepted: SignalEntry[];
  duplicates: SignalEntry[];
  /** Signals of the pool still waiting to be served, these included. */
  pending: number;
}

export async function takeSignals(store: Store, policy: Policy, offers: readonly SignalOffer[], now: number): Promise<IntakeResult> {
  const rememberMs = (policy.webhook ?? DEFAULT_WEBHOOK).rememberMs;
  let result: IntakeResult = { accepted: [], duplicates: [], pending: 0 };
  const pendingIn = (book: Parameters<typeof pendingFor>[0]) => (policy.signalRules ?? []).reduce((n, r) => n + pendingFor(book, r, now).length, 0);
  if (offers.length === 0) {
    result.pending = pendingIn((await store.getPool(policy.pool))?.signals);
    return result;
  }
  await savePoolWith(store, policy.pool, (rec) => {
    const r = acceptIntoBook(rec?.signals, offers, now, rememberMs);
    result = { accepted: r.accepted, duplicates: r.duplicates, pending: pendingIn(r.book) };
    // Nothing new: nothing to write (a redelivery costs one read).
    if (r.accepted.length === 0) return undefined;
    const base = rec ?? { pool: policy.pool, file: policy.file, managed: true, desired: policy.min, updatedAt: now };
    return { ...base, signals: r.book };
  });
  return result;
}
