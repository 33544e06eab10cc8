// Opening the SQLite store (the embedded default): the file, its pragmas and migrations, and the
// store as a driver (store-drivers.ts).
//
// Durability: journal_mode=WAL with synchronous=FULL. NORMAL would only lose commits on power
// loss or an OS crash, but that is exactly when the "state written before the step" rule
// matters: a Xen guest on a dom0 outlives the orchestrator's host, and a lost `cloning` row
// would leave a clone nobody cleans up. Writes here are a few per tick, so the fsync per commit
// costs nothing that matters.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { GridhostError } from '../errors/errors.ts';
import { sqliteKeys } from './sqlite-keys.ts';
import { migrate } from './sqlite-migrations.ts';
import { errMessage, SqliteStore, type DB } from './sqlite-store.ts';
import type { StoreDriver } from './store-drivers.ts';

/** Open (creating parent folders and the file) and migrate the database at `path`. */
export function openSqliteStore(path: string, opts: { now?: () => number } = {}): SqliteStore {
  const abs = resolve(path);
  let db: DB | undefined;
  try {
    mkdirSync(dirname(abs), { recursive: true });
    db = new Database(abs);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // Another gridhost process (or the CLI) may hold a write lock briefly.
    db.pragma('busy_timeout = 5000');
    migrate(db, abs);
    return new SqliteStore(db, abs, opts.now);
  } catch (e) {
    try {
      db?.close();
    } catch {
      // the open error is the one worth reporting
    }
    if (e instanceof GridhostError) throw e;
    throw new GridhostError(
      'GH_STORE_FAILED',
      `store operation failed: cannot open sqlite store at ${abs}: ${errMessage(e)}; check the path is a writable SQLite file (store.path)`,
      { path: abs },
      { cause: e },
    );
  }
}

/** The SQLite store as a driver (store-drivers.ts): its keys and how it opens. */
export const sqliteDriver: StoreDriver = {
  keys: sqliteKeys,
  open: async (c) => {
    if (c.kind !== 'sqlite') throw new GridhostError('GH_STORE_FAILED', `the sqlite driver cannot open a ${c.kind} store`);
    return openSqliteStore(c.path);
  },
};
