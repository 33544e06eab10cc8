// The pool's record in the store as its loop keeps it: taken over from an earlier holder (this
// process before a restart, or another gridhost that led the pool), and written by
// compare-and-set, fenced by the pool's token, with the loop's own fields (memory, breaker,
// last decision, cooldowns, desired) over whatever else the record holds.
import type { Decision } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { PoolRecord, Store } from '../store/store.ts';
import { remember, type PoolMemory } from '../decision/pool-memory.ts';
import { serveSignals } from '../decision/signal-book.ts';
import { GridhostError } from '../errors/errors.ts';
import type { BreakerState } from './circuit-breaker.ts';
import { fenceData, type ActingFence } from './acting-fence.ts';

/** What the loop itself writes into its record. */
export interface LoopFields {
  memory: PoolMemory;
  breaker: BreakerState;
  lastDecision?: Decision;
}

/**
 * The memory an earlier holder left in `rec`, taken up. Actions it had in flight were cut short
 * and are finished as failed now (what they left is the reconciler's to repair), so their
 * cooldowns start now, as the old holder's would have when they ended.
 */
export function takenOverMemory(policy: Policy, rec: PoolRecord | undefined, current: PoolMemory, now: number): PoolMemory {
  let m: PoolMemory = rec?.memory ? structuredClone(rec.memory) : current;
  for (const a of m.inFlight) m = remember(policy, m, { kind: 'finished', id: a.id, outcome: 'failed' }, now);
  return remember(policy, m, { kind: 'restored', lastScaleOutAt: rec?.lastScaleOutAt, lastScaleInAt: rec?.lastScaleInAt }, now);
}

export class PoolRecordWriter {
  /** The pool's record as last written or read (its version is the next compare-and-set's). */
  record?: PoolRecord;
  private persisting: Promise<void> = Promise.resolve();

  constructor(private readonly store: Store, private readonly fence: ActingFence | undefined) {}

  /**
   * Write the record: a compare-and-set on the version last read, fenced by the pool's token.
   * Writes are serialised (a tick and a finishing action both write); `own` is read when the
   * write runs. When someone else changed the record (an operator's pause, a reloaded policy),
   * the fresh record is read and `own` written over it once more.
   */
  save(policy: Policy, now: number, own: () => LoopFields, desired?: number, served?: { keys: string[]; by: string }): Promise<void> {
    const run = async () => {
      const fence = fenceData(this.fence);
      const build = (base: PoolRecord | undefined): PoolRecord => {
        const f = own();
        const rec: PoolRecord = {
          ...(base ?? { pool: policy.pool, file: policy.file, managed: true, desired: policy.min, updatedAt: now }),
          pool: policy.pool,
          file: policy.file,
          managed: true,
          memory: f.memory,
          breaker: f.breaker,
          updatedAt: now,
        };
        if (desired !== undefined) rec.desired = desired;
        if (f.lastDecision) rec.lastDecision = f.lastDecision;
        if (f.memory.lastScaleOutAt !== undefined) rec.lastScaleOutAt = f.memory.lastScaleOutAt;
        if (f.memory.lastScaleInAt !== undefined) rec.lastScaleInAt = f.memory.lastScaleInAt;
        // Applied to whatever signals the record holds now, so ones accepted meanwhile are kept.
        if (served) rec.signals = serveSignals(base?.signals, served.keys, now, served.by);
        return rec;
      };
      this.fence?.check();
      // Other writers (an operator, signals accepted by any process) may write in between more
      // than once: a few rewrites from the fresh record, as savePoolWith does.
      let base = this.record;
      for (let attempt = 1; ; attempt++) {
        try {
          this.record = await this.store.savePool(build(base), fence);
          return;
        } catch (e) {
          if (!(e instanceof GridhostError) || e.code !== 'GH_STALE_WRITE' || attempt >= 5) throw e;
          base = await this.store.getPool(policy.pool);
        }
      }
    };
    const p = this.persisting.then(run, run);
    this.persisting = p.catch(() => undefined);
    return p;
  }
}
