// SQLite state store (the embedded default) on better-sqlite3. Queries are synchronous inside
// the process; the async methods exist to satisfy the Store role shared with MongoDB.
// Opened and migrated by sqlite-driver.ts (the schema: sqlite-migrations.ts).
import Database from 'better-sqlite3';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Guest, PoolSample, ScaleEvent } from '../domain/types.ts';
import type { EventFilter, Fence, GuestFilter, Lease, Member, PoolHistoryEntry, PoolRecord, HostRecord, Store } from './store.ts';
import { clampEventLimit, fenced, FINISHED_STATES, leaseLost, staleWrite, storeError, withoutUndefined } from './store-common.ts';

export type DB = Database.Database;
type Stmt = Database.Statement;

const GUEST_ORDER = 'ORDER BY pool, created_at, id';

export class SqliteStore implements Store {
  readonly name = 'sqlite';
  readonly path: string;
  private readonly db: DB;
  private readonly stmts = new Map<string, Stmt>();
  private closed = false;
  /** The store's clock for leases and heartbeats (every process on the machine shares it). */
  private readonly now: () => number;

  /** Use openSqliteStore(); the constructor takes an already migrated database. */
  constructor(db: DB, path: string, now: () => number = Date.now) {
    this.db = db;
    this.path = path;
    this.now = now;
  }

  async savePool(p: PoolRecord, fence?: Fence): Promise<PoolRecord> {
    return this.run('savePool', () => this.write(fence, () => {
      const { version, ...rest } = withoutUndefined(p);
      const json = JSON.stringify(rest);
      if (version === undefined) {
        const info = this.stmt('createPool', 'INSERT INTO pools (pool, updated_at, json, version) VALUES (?, ?, ?, 1) ON CONFLICT (pool) DO NOTHING').run(p.pool, p.updatedAt, json);
        if (info.changes === 0) throw staleWrite(this.name, 'pool', p.pool, undefined, this.poolVersion(p.pool));
        return { ...rest, version: 1 };
      }
      const info = this.stmt('casPool', 'UPDATE pools SET updated_at = ?, json = ?, version = version + 1 WHERE pool = ? AND version = ?').run(p.updatedAt, json, p.pool, version);
      if (info.changes === 0) throw staleWrite(this.name, 'pool', p.pool, version, this.poolVersion(p.pool));
      return { ...rest, version: version + 1 };
    }));
  }

  private poolVersion(pool: string): number | undefined {
    return (this.stmt('poolVersion', 'SELECT version FROM pools WHERE pool = ?').get(pool) as { version: number } | undefined)?.version;
  }

  async getPool(pool: string): Promise<PoolRecord | undefined> {
    return this.run('getPool', () => {
      const row = this.stmt('getPool', 'SELECT json, version FROM pools WHERE pool = ?').get(pool) as { json: string; version: number } | undefined;
      return row ? withVersion<PoolRecord>(row) : undefined;
    });
  }

  async listPools(): Promise<PoolRecord[]> {
    return this.run('listPools', () => {
      const rows = this.stmt('listPools', 'SELECT json, version FROM pools ORDER BY pool').all() as { json: string; version: number }[];
      return rows.map((r) => withVersion<PoolRecord>(r));
    });
  }

  async saveHost(h: HostRecord): Promise<HostRecord> {
    return this.run('saveHost', () => {
      const { version, ...rest } = withoutUndefined(h);
      const json = JSON.stringify(rest);
      const found = () => (this.stmt('hostVersion', 'SELECT version FROM hosts WHERE host = ?').get(h.host) as { version: number } | undefined)?.version;
      if (version === undefined) {
        const info = this.stmt('createHost', 'INSERT INTO hosts (host, updated_at, json, version) VALUES (?, ?, ?, 1) ON CONFLICT (host) DO NOTHING').run(h.host, h.updatedAt, json);
        if (info.changes === 0) throw staleWrite(this.name, 'host', h.host, undefined, found());
        return { ...rest, version: 1 };
      }
      const info = this.stmt('casHost', 'UPDATE hosts SET updated_at = ?, json = ?, version = version + 1 WHERE host = ? AND version = ?').run(h.updatedAt, json, h.host, version);
      if (info.changes === 0) throw staleWrite(this.name, 'host', h.host, version, found());
      return { ...rest, version: version + 1 };
    });
  }

  async getHost(host: string): Promise<HostRecord | undefined> {
    return this.run('getHost', () => {
      const row = this.stmt('getHost', 'SELECT json, version FROM hosts WHERE host = ?').get(host) as { json: string; version: number } | undefined;
      return row ? withVersion<HostRecord>(row) : undefined;
    });
  }

  async listHosts(): Promise<HostRecord[]> {
    return this.run('listHosts', () => {
      const rows = this.stmt('listHosts', 'SELECT json, version FROM hosts ORDER BY host').all() as { json: string; version: number }[];
      return rows.map((r) => withVersion<HostRecord>(r));
    });
  }

  async saveGuest(g: Guest, fence?: Fence): Promise<Guest> {
    return this.run('saveGuest', () => this.write(fence, () => {
      const { version, ...rest } = withoutUndefined(g);
      const json = JSON.stringify(rest);
      if (version === undefined) {
        const info = this.stmt(
          'createGuest',
          'INSERT INTO guests (id, pool, state, created_at, updated_at, json, version) VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING',
        ).run(g.id, g.pool, g.state, g.createdAt, g.updatedAt, json);
        if (info.changes === 0) throw staleWrite(this.name, 'guest', g.id, undefined, this.guestVersion(g.id));
        return { ...rest, version: 1 };
      }
      const info = this.stmt(
        'casGuest',
        `UPDATE guests SET pool = ?, state = ?, created_at = ?, updated_at = ?, json = ?, version = version + 1
         WHERE id = ? AND version = ?`,
      ).run(g.pool, g.state, g.createdAt, g.updatedAt, json, g.id, version);
      if (info.changes === 0) throw staleWrite(this.name, 'guest', g.id, version, this.guestVersion(g.id));
      return { ...rest, version: version + 1 };
    }));
  }

  private guestVersion(id: string): number | undefined {
    return (this.stmt('guestVersion', 'SELECT version FROM guests WHERE id = ?').get(id) as { version: number } | undefined)?.version;
  }

  async getGuest(id: string): Promise<Guest | undefined> {
    return this.run('getGuest', () => {
      const row = this.stmt('getGuest', 'SELECT json, version FROM guests WHERE id = ?').get(id) as { json: string; version: number } | undefined;
      return row ? withVersion<Guest>(row) : undefined;
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
      const sql = `SELECT json, version FROM guests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ${GUEST_ORDER}`;
      const rows = this.stmt(key, sql).all(...args) as { json: string; version: number }[];
      return rows.map((r) => withVersion<Guest>(r));
    });
  }

  async appendEvent(e: ScaleEvent, fence?: Fence): Promise<ScaleEvent> {
    return this.run('appendEvent', () => this.write(fence, () => {
      const { id: _ignored, ...rest } = withoutUndefined(e);
      const info = this.stmt('appendEvent', 'INSERT INTO events (pool, at, outcome, json) VALUES (?, ?, ?, ?)').run(
        e.pool,
        e.at,
        e.outcome,
        JSON.stringify(rest),
      );
      return { ...rest, id: Number(info.lastInsertRowid) };
    }));
  }

  async updateEvent(id: number | string, outcome: ScaleEvent['outcome'], detail?: string, fence?: Fence): Promise<void> {
    this.run('updateEvent', () => {
      const rowid = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : NaN;
      if (!Number.isSafeInteger(rowid)) throw storeError(this.name, `event id ${JSON.stringify(id)} is not a sqlite event id`, { id });
      this.write(fence, () => {
        const row = this.stmt('getEvent', 'SELECT json FROM events WHERE id = ?').get(rowid) as { json: string } | undefined;
        if (!row) throw storeError(this.name, `no event with id ${rowid}`, { id: rowid });
        const ev = JSON.parse(row.json) as ScaleEvent;
        ev.outcome = outcome;
        if (detail !== undefined) ev.detail = detail;
        this.stmt('updateEvent', 'UPDATE events SET outcome = ?, json = ? WHERE id = ?').run(outcome, JSON.stringify(ev), rowid);
      });
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

  async acquireLease(pool: string, holder: string, ttlMs: number, api?: string): Promise<Lease | undefined> {
    return this.run('acquireLease', () => this.write(undefined, () => {
      const now = this.now();
      const cur = this.leaseRow(pool);
      if (cur && cur.holder !== holder && cur.expiresAt > now) return undefined;
      if (cur && cur.holder === holder) {
        this.stmt('reacquireLease', 'UPDATE leases SET expires_at = ?, api = ? WHERE pool = ?').run(now + ttlMs, api ?? null, pool);
        const { api: _old, ...rest } = cur;
        return { ...rest, expiresAt: now + ttlMs, ...(api !== undefined ? { api } : {}) };
      }
      const lease: Lease = { pool, holder, token: (cur?.token ?? 0) + 1, acquiredAt: now, expiresAt: now + ttlMs, ...(api !== undefined ? { api } : {}) };
      this.stmt(
        'takeLease',
        `INSERT INTO leases (pool, holder, token, acquired_at, expires_at, api) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (pool) DO UPDATE SET holder = excluded.holder, token = excluded.token,
           acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, api = excluded.api`,
      ).run(pool, holder, lease.token, now, lease.expiresAt, api ?? null);
      const detail = cur ? `after ${cur.holder} (token ${cur.token}, ${cur.expiresAt === 0 ? 'released' : 'expired'})` : 'first holder';
      this.insertHistory({ pool, at: now, kind: 'lease-acquired', holder, token: lease.token, detail });
      return lease;
    }));
  }

  async renewLease(pool: string, holder: string, token: number, ttlMs: number): Promise<Lease> {
    return this.run('renewLease', () => this.write(undefined, () => {
      const cur = this.leaseRow(pool);
      if (!cur || cur.holder !== holder || cur.token !== token) throw leaseLost(this.name, pool, holder, token, cur);
      const expiresAt = this.now() + ttlMs;
      this.stmt('renewLease', 'UPDATE leases SET expires_at = ? WHERE pool = ?').run(expiresAt, pool);
      return { ...cur, expiresAt };
    }));
  }

  async releaseLease(pool: string, holder: string, token: number): Promise<void> {
    this.run('releaseLease', () => this.write(undefined, () => {
      const cur = this.leaseRow(pool);
      if (!cur || cur.holder !== holder || cur.token !== token || cur.expiresAt === 0) return;
      this.stmt('releaseLease', 'UPDATE leases SET expires_at = 0 WHERE pool = ?').run(pool);
      this.insertHistory({ pool, at: this.now(), kind: 'lease-released', holder, token });
    }));
  }

  async getLease(pool: string): Promise<Lease | undefined> {
    return this.run('getLease', () => this.leaseRow(pool));
  }

  async listLeases(): Promise<Lease[]> {
    return this.run('listLeases', () =>
      (this.stmt('listLeases', `SELECT ${LEASE_COLS} FROM leases ORDER BY pool`).all() as LeaseRow[]).map(leaseOfRow));
  }

  private leaseRow(pool: string): Lease | undefined {
    const r = this.stmt('getLease', `SELECT ${LEASE_COLS} FROM leases WHERE pool = ?`).get(pool) as LeaseRow | undefined;
    return r && leaseOfRow(r);
  }

  async heartbeat(member: { id: string; api?: string; pools: readonly string[] }, ttlMs: number): Promise<void> {
    this.run('heartbeat', () => {
      const now = this.now();
      this.stmt(
        'heartbeat',
        `INSERT INTO members (id, api, pools, started_at, expires_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET api = excluded.api, pools = excluded.pools, expires_at = excluded.expires_at`,
      ).run(member.id, member.api ?? null, JSON.stringify(member.pools), now, now + ttlMs);
    });
  }

  async listMembers(): Promise<Member[]> {
    return this.run('listMembers', () => {
      const rows = this.stmt('listMembers', 'SELECT id, api, pools, started_at AS startedAt, expires_at AS expiresAt FROM members WHERE expires_at > ? ORDER BY id')
        .all(this.now()) as { id: string; api: string | null; pools: string; startedAt: number; expiresAt: number }[];
      return rows.map((r) => withoutUndefined({ id: r.id, api: r.api ?? undefined, pools: JSON.parse(r.pools) as string[], startedAt: r.startedAt, expiresAt: r.expiresAt }));
    });
  }

  async removeMember(id: string): Promise<void> {
    this.run('removeMember', () => {
      this.stmt('removeMember', 'DELETE FROM members WHERE id = ?').run(id);
    });
  }

  async appendHistory(e: PoolHistoryEntry, fence?: Fence): Promise<PoolHistoryEntry> {
    return this.run('appendHistory', () => this.write(fence, () => this.insertHistory(e)));
  }

  private insertHistory(e: PoolHistoryEntry): PoolHistoryEntry {
    const { id: _ignored, ...rest } = withoutUndefined(e);
    const info = this.stmt('appendHistory', 'INSERT INTO history (pool, at, json) VALUES (?, ?, ?)').run(e.pool, e.at, JSON.stringify(rest));
    return { ...rest, id: Number(info.lastInsertRowid) };
  }

  async listHistory(filter: EventFilter = {}): Promise<PoolHistoryEntry[]> {
    return this.run('listHistory', () => {
      const limit = clampEventLimit(filter.limit);
      const rows = (
        filter.pool !== undefined
          ? this.stmt('listHistoryPool', 'SELECT id, json FROM history WHERE pool = ? ORDER BY at DESC, id DESC LIMIT ?').all(filter.pool, limit)
          : this.stmt('listHistory', 'SELECT id, json FROM history ORDER BY at DESC, id DESC LIMIT ?').all(limit)
      ) as { id: number; json: string }[];
      return rows.map((r) => ({ ...(JSON.parse(r.json) as PoolHistoryEntry), id: r.id }));
    });
  }

  async appendSample(pool: string, s: PoolSample, fence?: Fence): Promise<void> {
    this.run('appendSample', () => this.write(fence, () => {
      this.stmt('appendSample', 'INSERT INTO samples (pool, at, json) VALUES (?, ?, ?)').run(pool, s.at, JSON.stringify(s));
    }));
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
        events: this.stmt('pruneEvents', 'DELETE FROM events WHERE at < ?').run(olderThan).changes
          + this.stmt('pruneHistoryEntries', 'DELETE FROM history WHERE at < ?').run(olderThan).changes,
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

  /**
   * One write transaction, begun IMMEDIATE: it takes the write lock first, so the fencing check
   * and the write see the same lease (another process cannot take it in between), and a busy
   * database is waited for (busy_timeout) instead of failing at a read-to-write upgrade.
   */
  private write<T>(fence: Fence | undefined, fn: () => T): T {
    return this.db.transaction(() => {
      if (fence) {
        const cur = this.leaseRow(fence.pool);
        if (!cur || cur.token !== fence.token) throw fenced(this.name, fence.pool, fence.token, cur?.token);
      }
      return fn();
    }).immediate();
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


const LEASE_COLS = 'pool, holder, token, acquired_at AS acquiredAt, expires_at AS expiresAt, api';
type LeaseRow = Omit<Lease, 'api'> & { api: string | null };
/** A lease row without its NULL api (leases taken before version 4, or by a holder with no API). */
function leaseOfRow(r: LeaseRow): Lease {
  const { api, ...rest } = r;
  return api === null ? { ...rest } : { ...rest, api };
}

/** The record as stored in `json`, with its version column. */
function withVersion<T>(row: { json: string; version: number }): T {
  return { ...(JSON.parse(row.json) as T), version: row.version };
}

export function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
