// The signals a pool was sent (POST /api/pools/:pool/signal, Alertmanager webhooks) and which
// of them were served, as plain data kept in the pool's record in the store (PoolRecord.signals),
// never only in one process's memory: any gridhost process may accept a signal (a
// compare-and-set write of the record), the pool's leader serves it at its next tick (its fenced
// write), and a restart or a new leader still knows every key it saw, so a redelivered alert
// acts once. Pure: every function returns a new book and leaves its input as it was.
//
// The rules (pinned by signal-book.test.ts):
//  - a signal is known by its key (an alert's fingerprint and startsAt, or a client's
//    idempotency key); a key already in the book is a duplicate, whatever its state;
//  - a signal is pending from when it was accepted until it is served or its rule's `expires`
//    has passed; served and expired ones stay as keys, so a redelivery is still a duplicate;
//  - keys are kept for webhook.remember (default 24h) and at most MAX_SIGNALS per pool (the
//    oldest go first); a redelivery after that is a new signal;
//  - serving marks keys served and starts their rule's cooldown; serving a key twice changes
//    nothing (the leader may apply its write again on a fresh record).
import type { SignalRule } from '../domain/policy.ts';
import type { Decision } from '../domain/types.ts';
import type { SignalDemand } from './decide-types.ts';

/** Keys kept per pool, served or not. */
export const MAX_SIGNALS = 256;

export interface SignalEntry {
  key: string;
  rule: string;
  /** Epoch ms it was accepted. */
  at: number;
  /** Who or what sent it, for people: `alert HighLatency (fingerprint 1a2b...)`, `ci@build-7`. */
  from: string;
  /** Epoch ms an action served it; absent while pending (or expired). */
  servedAt?: number;
  /** The serving decision's reason. */
  servedBy?: string;
}

export interface SignalBook {
  /** Oldest first. */
  entries: SignalEntry[];
  /** When each rule's signals were last served (its cooldown runs from then). A list, not a
   *  map keyed by rule: rule names may hold "." and MongoDB keys may not. */
  served: { rule: string; at: number }[];
}

export type SignalState = 'pending' | 'served' | 'expired';

export function emptyBook(): SignalBook {
  return { entries: [], served: [] };
}

/** A signal as a sender offers it. */
export interface SignalOffer {
  key: string;
  rule: string;
  from: string;
}

/** The book without keys older than `rememberMs` and beyond MAX_SIGNALS (oldest dropped). */
export function pruneBook(book: SignalBook, now: number, rememberMs: number): SignalBook {
  let entries = book.entries.filter((e) => now - e.at < rememberMs);
  if (entries.length > MAX_SIGNALS) entries = entries.slice(entries.length - MAX_SIGNALS);
  return { entries, served: book.served.map((x) => ({ ...x })) };
}

/**
 * Accept `offers` at `now`: new keys join the book as pending, keys it holds already (or that
 * came twice in `offers`) are duplicates. Pruned first, so a key past `rememberMs` is new again.
 */
export function acceptSignals(book: SignalBook | undefined, offers: readonly SignalOffer[], now: number, rememberMs: number): { book: SignalBook; accepted: SignalEntry[]; duplicates: SignalEntry[] } {
  const pruned = pruneBook(book ?? emptyBook(), now, rememberMs);
  const byKey = new Map(pruned.entries.map((e) => [e.key, e]));
  const accepted: SignalEntry[] = [];
  const duplicates: SignalEntry[] = [];
  for (const o of offers) {
    const known = byKey.get(o.key);
    if (known !== undefined) {
      duplicates.push({ ...known });
      continue;
    }
    const e: SignalEntry = { key: o.key, rule: o.rule, at: now, from: o.from };
    byKey.set(o.key, e);
    accepted.push(e);
  }
  const entries = [...pruned.entries, ...accepted];
  return { book: { entries: entries.length > MAX_SIGNALS ? entries.slice(entries.length - MAX_SIGNALS) : entries, served: pruned.served }, accepted: accepted.map((e) => ({ ...e })), duplicates };
}

/** Pure: an entry's state at `now` under its rule (a rule no longer in the policy: expired). */
export function signalState(e: SignalEntry, rule: SignalRule | undefined, now: number): SignalState {
  if (e.servedAt !== undefined) return 'served';
  if (rule === undefined || now - e.at >= rule.expiresMs) return 'expired';
  return 'pending';
}

/** When the rule's signals were last served (undefined: never, or forgotten). */
export function lastServedAt(book: SignalBook | undefined, rule: string): number | undefined {
  return book?.served.find((x) => x.rule === rule)?.at;
}

/** The rule's pending signals at `now`, oldest first. */
export function pendingFor(book: SignalBook | undefined, rule: SignalRule, now: number): SignalEntry[] {
  if (book === undefined) return [];
  return book.entries.filter((e) => e.rule === rule.name && e.at <= now && signalState(e, rule, now) === 'pending');
}

/** The book with `keys` served at `now` by `by` and their rules' cooldowns started. Keys served
 *  already, or not in the book (pruned meanwhile), are left as they are. */
export function serveSignals(book: SignalBook | undefined, keys: readonly string[], now: number, by: string): SignalBook {
  const b = book ?? emptyBook();
  const wanted = new Set(keys);
  const last = new Map(b.served.map((x) => [x.rule, x.at]));
  const entries = b.entries.map((e) => {
    if (!wanted.has(e.key) || e.servedAt !== undefined) return e;
    last.set(e.rule, Math.max(last.get(e.rule) ?? -Infinity, now));
    return { ...e, servedAt: now, servedBy: by.slice(0, 300) };
  });
  return { entries, served: [...last].map(([rule, at]) => ({ rule, at })) };
}

/**
 * The keys an action serves: those of every signal rule that fired for it (`demands`, from the
 * tick's decision) whose wish the action grants, that is, it moves the pool their way at least as
 * far as they asked or as the bounds in force allow. A smaller step, the other way, or no action
 * serves nothing: the signal waits (until its rule's `expires`).
 */
export function servedSignals(acted: Decision | undefined, demands: readonly SignalDemand[] | undefined): string[] {
  // A resize changes no size: it grants no signal's wish for one.
  if (acted === undefined || acted.action === 'hold' || acted.action === 'resize' || demands === undefined) return [];
  const keys: string[] = [];
  for (const d of demands) {
    const grants = acted.action === 'scale-out'
      ? d.wants > acted.from && acted.to >= Math.min(d.wants, acted.inputs.max)
      : d.wants < acted.from && acted.to <= Math.max(d.wants, acted.inputs.min);
    if (grants) keys.push(...d.keys);
  }
  return keys;
}
