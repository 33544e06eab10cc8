// SQLite state store (the embedded default) on better-sqlite3. Queries are synchronous inside
// the process; the async methods exist to satisfy the Store role shared with MongoDB.
//
// Durability: journal_mode=WAL with synchronous=FULL. NORMAL would only lose commits on power
// loss or an OS crash, but that is exactly when the "state written before the step" rule
// matters: a Xen guest on a dom0 outlives the orchestrator's host, and a lost `cloning` row
// would leave a clone nobody cleans up. Writes here are a few per tick, so the fsync per commit
// costs nothing that matters.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Guest, PoolSample, ScaleEvent } from '../domain/types.ts';
import type { EventFilter, GuestFilter, PoolRecord, Store } from './store.ts';
import { clampEventLimit, FINISHED_STATES, storeError, withoutUndefined } from './store-common.ts';

type DB = Database.Database;
type Stmt = Database.Statement;

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
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const GUEST_ORDER = 'ORDER BY pool, created_at, id';

export class SqliteStore implements Store {
  readonly name = 'sqlite';
  readonly path: string;
  private readonly db: DB;
  private readonly stmts = new Map<string, Stmt>();
  private closed = false;

  /** Use openSqliteStore(); the constructor takes an already migrated database. */
  constructor(db: DB, path: string) {
    this.db = db;
    this.path = path;
  }

  async upsertPool(p: PoolRecord): Promise<void> {
    this.run('upsertPool', () => {
      this.stmt(
        'upsertPool',
        `INSERT INTO pools (pool, updated_at, json) VALUES (?, ?, ?)
         ON CONFLICT (pool) DO UPDATE SET updated_at = excluded.updated_at, json = excluded.json`,
      ).run(p.pool, p.updatedAt, JSON.stringify(withoutUndefined(p)));
    });
  }

  async getPool(pool: string): Promise<PoolRecord | undefined> {
    return this.run('getPool', () => {
      const row = this.stmt('getPool', 'SELECT json FROM pools WHERE pool = ?').get(pool) as { json: string } | undefined;
      return row ? (JSON.parse(row.json) as PoolRecord) : undefined;
    });
  }

  async listPools(): Promise<PoolRecord[]> {
    return this.run('listPools', () => {
      const rows = this.stmt('listPools', 'SELECT json FROM pools ORDER BY pool').all() as { json: string }[];
      return rows.map((r) => JSON.parse(r.json) as PoolRecord);
    });
  }

  async putGuest(g: Guest): Promise<void> {
    this.run('putGuest', () => {
      this.stmt(
        'putGuest',
        `INSERT INTO guests (id, pool, state, created_at, updated_at, json) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET pool = excluded.pool, state = excluded.state,
           created_at = excluded.created_at, updated_at = excluded.updated_at, json = excluded.json`,
      ).run(g.id, g.pool, g.state, g.createdAt, g.updatedAt, JSON.stringify(withoutUndefined(g)));
    });
  }

  async getGuest(id: string): Promise<Guest | undefined> {
    return this.run('getGuest', () => {
      const row = this.stmt('getGuest', 'SELECT json FROM guests WHERE id = ?').get(id) as { json: string } | undefined;
      return row ? (JSON.parse(row.json) as Guest) : undefined;
    });
  }

  async listGuests(filter: GuestFilter = {}): Promise<Guest[]> {
    return this.run('listGuests', () => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.pool !== undefined) {
        where.push('pool = ?');
        args.push(filter.pool);
      }
      if (filter.states !== undefined) {
        // One statement for any number of states: the list travels as a JSON array.
        where.push('state IN (SELECT value FROM json_each(?))');
        args.push(JSON.stringify(filter.states));
      }
      const key = `listGuests:${filter.pool !== undefined}:${filter.states !== undefined}`;
      const sql = `SELECT json FROM guests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ${GUEST_ORDER}`;
      const rows = this.stmt(key, sql).all(...args) as { json: string }[];
      return rows.map((r) => JSON.parse(r.json) as Guest);
    });
  }

  async appendEvent(e: ScaleEvent): Promise<ScaleEvent> {
    return this.run('appendEvent', () => {
      const { id: _ignored, ...rest } = withoutUndefined(e);
      const info = this.stmt('appendEvent', 'INSERT INTO events (pool, at, outcome, json) VALUES (?, ?, ?, ?)').run(
        e.pool,
        e.at,
        e.outcome,
        JSON.stringify(rest),
      );
      return { ...rest, id: Number(info.lastInsertRowid) };
    });
  }

  async updateEvent(id: number | string, outcome: ScaleEvent['outcome'], detail?: string): Promise<void> {
    this.run('updateEvent', () => {
      const rowid = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : NaN;
      if (!Number.isSafeInteger(rowid)) throw storeError(this.name, `event id ${JSON.stringify(id)} is not a sqlite event id`, { id });
      const tx = this.db.transaction(() => {
        const row = this.stmt('getEvent', 'SELECT json FROM events WHERE id = ?').get(rowid) as { json: string } | undefined;
        if (!row) throw storeError(this.name, `no event with id ${rowid}`, { id: rowid });
        const ev = JSON.parse(row.json) as ScaleEvent;
        ev.outcome = outcome;
        if (detail !== undefined) ev.detail = detail;
        this.stmt('updateEvent', 'UPDATE events SET outcome = ?, json = ? WHERE id = ?').run(outcome, JSON.stringify(ev), rowid);
      });
      tx();
    });
  }

  async listEvents(filter: EventFilter = {}): Promise<ScaleEvent[]> {
    return this.run('listEvents', () => {
      const limit = clampEventLimit(filter.limit);
      const rows = (
        filter.pool !== undefined
          ? this.stmt('listEventsPool', 'SELECT id, json FROM events WHERE pool = ? ORDER BY at DESC, id DESC LIMIT ?').all(filter.pool, limit)
          : this.stmt('listEvents', 'SELECT id, json FROM events ORDER BY at DESC, id DESC LIMIT ?').all(limit)
      ) as { id: number; json: string }[];
      return rows.map((r) => ({ ...(JSON.parse(r.json) as ScaleEvent), id: r.id }));
    });
  }

  async appendSample(pool: string, s: PoolSample): Promise<void> {
    this.run('appendSample', () => {
      this.stmt('appendSample', 'INSERT INTO samples (pool, at, json) VALUES (?, ?, ?)').run(pool, s.at, JSON.stringify(s));
    });
  }

  async listSamples(pool: string, since?: number, until?: number): Promise<PoolSample[]> {
    return this.run('listSamples', () => {
      const rows = this.stmt(
        'listSamples',
        'SELECT json FROM samples WHERE pool = ? AND at >= ? AND at <= ? ORDER BY at, rowid',
      ).all(pool, since ?? -Number.MAX_VALUE, until ?? Number.MAX_VALUE) as { json: string }[];
      return rows.map((r) => JSON.parse(r.json) as PoolSample);
    });
  }

  async pruneSamples(olderThan: number): Promise<number> {
    return this.run('pruneSamples', () => this.stmt('pruneSamples', 'DELETE FROM samples WHERE at < ?').run(olderThan).changes);
  }

  async pruneHistory(olderThan: number): Promise<{ guests: number; events: number }> {
    return this.run('pruneHistory', () => {
      // One transaction: one fsync for both deletes (synchronous=FULL).
      const tx = this.db.transaction(() => ({
        guests: this.stmt(
          'pruneGuests',
          'DELETE FROM guests WHERE state IN (SELECT value FROM json_each(?)) AND updated_at < ?',
        ).run(JSON.stringify(FINISHED_STATES), olderThan).changes,
        events: this.stmt('pruneEvents', 'DELETE FROM events WHERE at < ?').run(olderThan).changes,
      }));
      return tx();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stmts.clear();
    this.run('close', () => this.db.close());
  }

  /** Prepared statements are built once per key and reused. */
  private stmt(key: string, sql: string): Stmt {
    let s = this.stmts.get(key);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(key, s);
    }
    return s;
  }

  private run<T>(op: string, fn: () => T): T {
    try {
      if (this.closed && op !== 'close') throw storeError(this.name, `${op} called after close (${this.path})`, { op, path: this.path });
      return fn();
    } catch (e) {
      if (e instanceof GridhostError) throw e;
      throw wrapError('GH_STORE_FAILED', new Error(`sqlite ${op} on ${this.path}: ${errMessage(e)}`, { cause: e }), {
        op,
        path: this.path,
      });
    }
  }
}

/** Open (creating parent folders and the file) and migrate the database at `path`. */
export function openSqliteStore(path: string): SqliteStore {
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
    return new SqliteStore(db, abs);
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

function migrate(db: DB, path: string): void {
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

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
