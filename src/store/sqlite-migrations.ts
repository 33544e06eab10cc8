// The SQLite store's schema: numbered migrations, applied in order at open (sqlite-driver.ts).
import { storeError } from './store-common.ts';
import type { DB } from './sqlite-store.ts';

interface Migration {
  version: number;
  sql: string;
}

/** Applied in order, each in its own transaction, at open. Never edit one that has shipped. */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE pools (
        pool TEXT PRIMARY KEY,
        updated_at INTEGER NOT NULL,
        json TEXT NOT NULL
      );
      CREATE TABLE guests (
        id TEXT PRIMARY KEY,
        pool TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        json TEXT NOT NULL
      );
      CREATE INDEX guests_pool_state ON guests (pool, state);
      CREATE INDEX guests_state ON guests (state);
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pool TEXT NOT NULL,
        at INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        json TEXT NOT NULL
      );
      CREATE INDEX events_pool_at ON events (pool, at);
      CREATE INDEX events_at ON events (at);
      CREATE TABLE samples (
        pool TEXT NOT NULL,
        at INTEGER NOT NULL,
        json TEXT NOT NULL
      );
      CREATE INDEX samples_pool_at ON samples (pool, at);
      CREATE INDEX samples_at ON samples (at);
    `,
  },
  {
    // pruneHistory deletes finished guests by state and age: a range on (state, updated_at)
    // instead of reading every gone/failed row. It also serves every lookup guests_state did.
    version: 2,
    sql: `
      CREATE INDEX guests_state_updated ON guests (state, updated_at);
      DROP INDEX guests_state;
    `,
  },
  {
    // Compare-and-set versions on guests and pools (rows written before it start at 0), pool
    // leases with fencing tokens, members (live gridhost processes) and the pool history.
    version: 3,
    sql: `
      ALTER TABLE guests ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE pools ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE leases (
        pool TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        token INTEGER NOT NULL,
        acquired_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE members (
        id TEXT PRIMARY KEY,
        api TEXT,
        pools TEXT NOT NULL DEFAULT '[]',
        started_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        pool TEXT NOT NULL,
        at INTEGER NOT NULL,
        json TEXT NOT NULL
      );
      CREATE INDEX history_pool_at ON history (pool, at);
      CREATE INDEX history_at ON history (at);
    `,
  },
  {
    // The lease holder's API URL, so a process that does not lead a pool can name where it is led.
    version: 4,
    sql: `
      ALTER TABLE leases ADD COLUMN api TEXT;
    `,
  },
  {
    // Hosts an operator closed (drain-host): read by every pool's leader each tick.
    version: 5,
    sql: `
      CREATE TABLE hosts (
        host TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        json TEXT NOT NULL
      );
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Brings the database at `path` to SQLITE_SCHEMA_VERSION; refuses one newer than this gridhost. */
export function migrate(db: DB, path: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  const current = row.v ?? 0;
  if (current > SQLITE_SCHEMA_VERSION) {
    throw storeError('sqlite', `${path} has schema version ${current}, newer than this gridhost knows (${SQLITE_SCHEMA_VERSION}); upgrade gridhost`, {
      path,
      version: current,
    });
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(m.version);
    })();
  }
}
