// Read-modify-write of a pool record under compare-and-set, for every writer of pool records
// (the orchestrator, the pool retirement).
import type { Fence, PoolRecord, Store } from '../store/store.ts';
import { GridhostError } from '../errors/errors.ts';

/**
 * Read-modify-write of a pool record with compare-and-set: `change` gets the record as stored
 * (undefined when there is none) and returns the record to write (undefined: write nothing).
 * A write refused because someone else wrote in between is redone from the fresh record.
 */
export async function savePoolWith(store: Store, pool: string, change: (rec: PoolRecord | undefined) => PoolRecord | undefined, fence?: Fence): Promise<PoolRecord | undefined> {
  for (let attempt = 1; ; attempt++) {
    const next = change(await store.getPool(pool));
    if (!next) return undefined;
    try {
      return await store.savePool(next, fence);
    } catch (e) {
      if (!(e instanceof GridhostError) || e.code !== 'GH_STALE_WRITE' || attempt >= 5) throw e;
    }
  }
}
