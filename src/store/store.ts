// The state store role. Implementations: SQLite via better-sqlite3 (embedded default) and
// MongoDB via mongoose (multi-orchestrator deployments). Both pass the same contract tests
// (test/store/store-contract.ts); the MongoDB run needs MONGODB_URI.
//
// Error contract: every method rejects only with GridhostError GH_STORE_FAILED (cause kept).
// So does any call after close(), and updateEvent() of an id the store never gave out.
//
// Shared semantics (src/store/store-common.ts; checked by the contract tests):
//  - values returned are copies; optional fields left out stay absent (never null);
//  - upsertPool/putGuest replace the whole record;
//  - listPools by pool name; listGuests by pool, createdAt, id; `states: []` matches nothing;
//  - listEvents newest first (at desc, then latest append first); limit clamped to 1..1000;
//  - updateEvent without `detail` keeps the detail already stored;
//  - listSamples oldest first, `since` and `until` both inclusive; pruneSamples deletes
//    samples with `at < olderThan` in every pool;
//  - pruneHistory deletes guests whose state is `gone` or `failed` and `updatedAt < olderThan`,
//    and events with `at < olderThan`, in every pool; a guest in any other state is never
//    deleted, however old (it may still own a clone or a running domain).
// Writes are durable when the promise resolves: the controller relies on "state written
// before the step is attempted" to repair half-made guests after a crash.
import type { Guest, GuestState, PoolSample, ScaleEvent } from '../domain/types.ts';

export interface PoolRecord {
  pool: string;
  /** Policy file it came from. */
  file: string;
  /** Last desired size decided. */
  desired: number;
  /** Epoch ms of the last scale-out / scale-in action (for cooldowns across restarts). */
  lastScaleOutAt?: number;
  lastScaleInAt?: number;
  /** False once the policy file was removed (guests are kept unless the operator asks). */
  managed: boolean;
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

export interface Store {
  readonly name: string;
  upsertPool(p: PoolRecord): Promise<void>;
  getPool(pool: string): Promise<PoolRecord | undefined>;
  listPools(): Promise<PoolRecord[]>;

  /** Insert or replace the guest by id. */
  putGuest(g: Guest): Promise<void>;
  getGuest(id: string): Promise<Guest | undefined>;
  listGuests(filter?: GuestFilter): Promise<Guest[]>;

  /** Append a scale event; returns it with its id set. */
  appendEvent(e: ScaleEvent): Promise<ScaleEvent>;
  /** Update the outcome of an event appended earlier. */
  updateEvent(id: number | string, outcome: ScaleEvent['outcome'], detail?: string): Promise<void>;
  listEvents(filter?: EventFilter): Promise<ScaleEvent[]>;

  /** Record a pool's sample (kept for replay by the simulator); older than `keepMs` are pruned. */
  appendSample(pool: string, s: PoolSample): Promise<void>;
  listSamples(pool: string, since?: number, until?: number): Promise<PoolSample[]>;
  pruneSamples(olderThan: number): Promise<number>;
  /** Delete finished guests (`gone`/`failed`, `updatedAt < olderThan`) and events (`at < olderThan`); returns how many of each. */
  pruneHistory(olderThan: number): Promise<{ guests: number; events: number }>;

  close(): Promise<void>;
}
