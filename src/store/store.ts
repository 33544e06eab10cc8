// The state store role. Implementations: SQLite via better-sqlite3 (embedded default) and
// MongoDB via mongoose (multi-orchestrator deployments). Both pass the same contract tests
// (test/store/store-contract.ts); the MongoDB run needs MONGODB_URI.
//
// Error contract: every method rejects with GridhostError GH_STORE_FAILED (cause kept) when the
// store cannot do it, and so does any call after close() and updateEvent() of an id the store
// never gave out. Besides that, and never matched by message:
//  - GH_STALE_WRITE: a compare-and-set found another version than the writer read (someone
//    wrote the record since), or a create found the record already there. Nothing changed.
//  - GH_FENCED: the write carried a fencing token that is not the pool's current one (a newer
//    leader holds the pool). Nothing changed.
//  - GH_LEASE_LOST: renewLease of a lease that is no longer the caller's.
//
// Versions: guest, pool and host records carry `version`, set by the store (1 on create, +1 on every
// write). saveGuest/savePool of a record without a version creates it; with one, it is a
// compare-and-set on that version (SQLite: UPDATE ... WHERE version = ?; MongoDB:
// findOneAndUpdate with the version in the filter). The record returned carries the new version;
// write the next change from it.
//
// Leases and fencing (several gridhost processes on one store): each pool has at most one
// lease; a new holder gets a token one higher than the last. Writes made on a pool's behalf
// carry its Fence; the store refuses (GH_FENCED) one whose token is not the lease's current
// token. Lease times are the store's clock (SQLite: the machine's; MongoDB: the server's $$NOW),
// so holders on machines with skewed clocks agree; a holder must not rely on `expiresAt` with
// its own clock, only on how long ago it asked (see controller/leadership.ts).
//
// Shared semantics (src/store/store-common.ts; checked by the contract tests):
//  - values returned are copies; optional fields left out stay absent (never null);
//  - savePool/saveGuest replace the whole record (optional fields left out are dropped);
//  - listPools by pool name; listGuests by pool, createdAt, id; `states: []` matches nothing;
//  - listEvents newest first (at desc, then latest append first); limit clamped to 1..1000;
//  - updateEvent without `detail` keeps the detail already stored;
//  - listSamples oldest first, `since` and `until` both inclusive; pruneSamples deletes
//    samples with `at < olderThan` in every pool;
//  - pruneHistory deletes guests whose state is `gone` or `failed` and `updatedAt < olderThan`,
//    and events and history entries with `at < olderThan`, in every pool; a guest in any other state is never
//    deleted, however old (it may still own a clone or a running domain).
// Writes are durable when the promise resolves: the controller relies on "state written
// before the step is attempted" to repair half-made guests after a crash.
import type { Decision, Guest, GuestState, PoolControl, PoolSample, ScaleEvent } from '../domain/types.ts';
import type { PoolMemory } from '../decision/pool-memory.ts';
import type { SignalBook } from '../decision/signal-book.ts';
import type { RolloutRecord } from '../decision/rollout-plan.ts';
import type { BreakerState } from '../controller/circuit-breaker.ts';

export interface PoolRecord {
  pool: string;
  /** Set by the store: absent before the first write, then 1, 2, ... (see the header). */
  version?: number;
  /** Policy file it came from. */
  file: string;
  /** Last desired size decided. */
  desired: number;
  /** Epoch ms of the last scale-out / scale-in action (for cooldowns across restarts). */
  lastScaleOutAt?: number;
  lastScaleInAt?: number;
  /** False once the policy file was removed (guests are kept unless the operator asks). */
  managed: boolean;
  /** Epoch ms an operator's retire of the pool finished with every guest gone (desired is then 0).
   *  Absent while managed, and again once a policy manages the pool anew. */
  retiredAt?: number;
  /** An operator's pause or manual size (see PoolControl); absent: the policy decides. */
  control?: PoolControl;
  updatedAt: number;
  /** What the pool's decisions depend on between ticks, written by its leader every tick, so
   *  a restarted or newly elected gridhost decides exactly as the old one would have: the
   *  decision core's memory (samples in the window, stabilization recommendations, cooldown
   *  starts, actions in flight), the launch circuit breaker and the last decision. Plain data. */
  memory?: PoolMemory;
  breaker?: BreakerState;
  lastDecision?: Decision;
  /** Signals sent to the pool (strategy: signal rules) and which were served: written by any
   *  process that accepts one (compare-and-set, no fence: it need not lead the pool) and by the
   *  leader that serves them (fenced); every writer keeps what the others wrote. */
  signals?: SignalBook;
  /** The pool's rollout (controller/rollout.ts): running, or how the last one ended. */
  rollout?: RolloutRecord;
}

/**
 * A hypervisor host as operators steer it (drain-host / undrain-host). Written by whichever
 * process takes the operator's request (compare-and-set, no fence: hosts are not led); read by
 * every pool's leader each tick. No record: the host is open.
 */
export interface HostRecord {
  host: string;
  /** Set by the store (see the header). */
  version?: number;
  /** Closed for placement, and its guests moved off: by whom, why, since when. Absent: open. */
  drain?: { by: string; reason: string; at: number };
  updatedAt: number;
}

export interface GuestFilter {
  pool?: string;
  states?: readonly GuestState[];
}

export interface EventFilter {
  pool?: string;
  /** Newest first; default 100, at most 1000. */
  limit?: number;
}

/** Proof that a write is made by the pool's current leader: the pool and its lease's token. */
export interface Fence {
  pool: string;
  token: number;
}

export interface Lease {
  pool: string;
  /** The holder's id (one per gridhost process start). */
  holder: string;
  /** Fencing token: one higher for every new holder of the pool, never reused. */
  token: number;
  /** When this holder took it (store clock, epoch ms). */
  acquiredAt: number;
  /** When it ends unless renewed (store clock); 0 after a release. */
  expiresAt: number;
  /** The holder's API URL as it advertised it when it took or renewed the lease, so a process
   *  that does not lead the pool can send an operator to the one that does. */
  api?: string;
}

/** A running gridhost process, as it announces itself (heartbeat). */
export interface Member {
  id: string;
  /** Where its API listens, so others can say who leads. */
  api?: string;
  /** The pools it has a valid policy for (only those can be given to it). */
  pools: string[];
  startedAt: number;
  /** Store clock; members past it are not listed. */
  expiresAt: number;
}

/** An entry of a pool's history besides scale events: who held it, what the reconciler repaired. */
export interface PoolHistoryEntry {
  id?: number | string;
  pool: string;
  at: number;
  kind: 'lease-acquired' | 'lease-released' | 'repair';
  holder?: string;
  token?: number;
  /** For repairs: which kind of mismatch (see controller/reconcile-plan.ts). */
  repair?: string;
  guest?: string;
  detail?: string;
}

export interface Store {
  readonly name: string;
  /** Create (no version) or compare-and-set (version) the pool record; returns it as stored. */
  savePool(p: PoolRecord, fence?: Fence): Promise<PoolRecord>;
  getPool(pool: string): Promise<PoolRecord | undefined>;
  listPools(): Promise<PoolRecord[]>;

  /** Create (no version) or compare-and-set (version) the guest; returns it as stored. */
  /** Create (no version) or compare-and-set (version) a host record; never fenced. */
  saveHost(h: HostRecord): Promise<HostRecord>;
  getHost(host: string): Promise<HostRecord | undefined>;
  /** By host name. */
  listHosts(): Promise<HostRecord[]>;

  saveGuest(g: Guest, fence?: Fence): Promise<Guest>;
  getGuest(id: string): Promise<Guest | undefined>;
  listGuests(filter?: GuestFilter): Promise<Guest[]>;

  /** Append a scale event; returns it with its id set. */
  appendEvent(e: ScaleEvent, fence?: Fence): Promise<ScaleEvent>;
  /** Update the outcome of an event appended earlier. */
  updateEvent(id: number | string, outcome: ScaleEvent['outcome'], detail?: string, fence?: Fence): Promise<void>;
  listEvents(filter?: EventFilter): Promise<ScaleEvent[]>;

  /** Take the pool's lease for `holder` when it is free, expired or already the holder's (then
   *  renewed with the same token); a new holder gets the last token + 1 and a 'lease-acquired'
   *  history entry. Undefined while another holder's lease runs. `api` (the holder's API URL)
   *  is kept with the lease; absent, the lease has none. */
  acquireLease(pool: string, holder: string, ttlMs: number, api?: string): Promise<Lease | undefined>;
  /** Extend the lease (holder, token) by ttlMs from now; GH_LEASE_LOST when it is not that any more. */
  renewLease(pool: string, holder: string, token: number, ttlMs: number): Promise<Lease>;
  /** Give the lease up (it expires now; the token stays so the next holder's is higher). No-op when not held. */
  releaseLease(pool: string, holder: string, token: number): Promise<void>;
  getLease(pool: string): Promise<Lease | undefined>;
  listLeases(): Promise<Lease[]>;

  /** Announce (or keep announcing) a member for ttlMs from now. */
  heartbeat(member: { id: string; api?: string; pools: readonly string[] }, ttlMs: number): Promise<void>;
  /** Members whose heartbeat has not expired, by id. */
  listMembers(): Promise<Member[]>;
  removeMember(id: string): Promise<void>;

  appendHistory(e: PoolHistoryEntry, fence?: Fence): Promise<PoolHistoryEntry>;
  /** Newest first, like listEvents. */
  listHistory(filter?: EventFilter): Promise<PoolHistoryEntry[]>;

  /** Record a pool's sample (kept for replay by the simulator); older than `keepMs` are pruned. */
  appendSample(pool: string, s: PoolSample, fence?: Fence): Promise<void>;
  listSamples(pool: string, since?: number, until?: number): Promise<PoolSample[]>;
  pruneSamples(olderThan: number): Promise<number>;
  /** Delete finished guests (`gone`/`failed`, `updatedAt < olderThan`) and events (`at < olderThan`); returns how many of each. */
  pruneHistory(olderThan: number): Promise<{ guests: number; events: number }>;

  close(): Promise<void>;
}
