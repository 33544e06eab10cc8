// MongoDB state store via mongoose, for deployments where several orchestrators (or an
// operator's tools) share state. Same semantics as the SQLite store: both pass
// test/store/store-contract.ts.
//
// Uses its own connection (mongoose.createConnection), never the global mongoose, so a
// process may hold several stores. Writes use w:'majority' + j:true on replica sets and
// sharded clusters (a resolved write then survives a primary failover) and w:1 + j:true on a
// standalone server, where majority adds nothing.
import { docToHost, hostToDoc, type HostDoc } from './mongo-host-model.ts';
import mongoose, { type Connection, type Model } from 'mongoose';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Guest, PoolSample, ScaleEvent } from '../domain/types.ts';
import { redactString } from '../observability/redact.ts';
import type { EventFilter, Fence, GuestFilter, Lease, Member, PoolHistoryEntry, PoolRecord, HostRecord, Store } from './store.ts';
import { clampEventLimit, fenced, FINISHED_STATES, leaseLost, staleWrite, storeError } from './store-common.ts';
import { mongodbKeys } from './mongo-keys.ts';
import type { StoreDriver } from './store-drivers.ts';
import {
  defineModels, docToEvent, docToGuest, docToHistory, docToLease, docToMember, docToPool, docToSample, eventToDoc, guestToDoc,
  historyToDoc, poolToDoc, sampleToDoc,
  type EventDoc, type GuestDoc, type HistoryDoc, type LeaseDoc, type MemberDoc, type MongoModels, type PoolDoc, type SampleDoc, type WriteConcern,
} from './mongo-models.ts';

/** The server's clock as epoch milliseconds, inside aggregation expressions and update pipelines. */
const NOW_MS = { $toLong: '$$NOW' };

// Documents, schemas and mapping live in mongo-models.ts; re-exported for existing importers.
export * from './mongo-models.ts';

// ---- the store

export interface MongoStoreOptions {
  /** Database name; default: the one in the URI (or mongoose's default "test"). */
  dbName?: string;
  /** How long to look for a server before failing; default 10 s. */
  serverSelectionTimeoutMS?: number;
}

export class MongoStore implements Store {
  readonly name = 'mongodb';
  readonly writeConcern: WriteConcern;
  private readonly conn: Connection;
  private readonly m: MongoModels;
  /** The URI with any password masked, for messages. */
  private readonly where: string;
  private closed = false;

  /** Use openMongoStore(); the constructor takes an open connection. */
  constructor(conn: Connection, models: MongoModels, writeConcern: WriteConcern, where: string) {
    this.conn = conn;
    this.m = models;
    this.writeConcern = writeConcern;
    this.where = where;
  }

  async savePool(p: PoolRecord, fence?: Fence): Promise<PoolRecord> {
    return this.run('savePool', async () => {
      await this.checkFence(fence);
      const stored = { ...p, version: (p.version ?? 0) + 1 };
      await this.cas(this.m.pools as unknown as Model<{ _id: string; version?: number }>, 'pool', p.pool, p.version, poolToDoc(stored));
      return docToPool(poolToDoc(stored));
    });
  }

  async saveHost(h: HostRecord): Promise<HostRecord> {
    return this.run('saveHost', async () => {
      const stored = { ...h, version: (h.version ?? 0) + 1 };
      await this.cas(this.m.hosts as unknown as Model<{ _id: string; version?: number }>, 'host', h.host, h.version, hostToDoc(stored));
      return docToHost(hostToDoc(stored));
    });
  }

  async getHost(host: string): Promise<HostRecord | undefined> {
    return this.run('getHost', async () => {
      const d = await this.m.hosts.findById(host).lean<HostDoc>().exec();
      return d ? docToHost(d) : undefined;
    });
  }

  async listHosts(): Promise<HostRecord[]> {
    return this.run('listHosts', async () => {
      const ds = await this.m.hosts.find().sort({ _id: 1 }).lean<HostDoc[]>().exec();
      return ds.map(docToHost);
    });
  }

  async getPool(pool: string): Promise<PoolRecord | undefined> {
    return this.run('getPool', async () => {
      const d = await this.m.pools.findById(pool).lean<PoolDoc>().exec();
      return d ? docToPool(d) : undefined;
    });
  }

  async listPools(): Promise<PoolRecord[]> {
    return this.run('listPools', async () => {
      const ds = await this.m.pools.find().sort({ _id: 1 }).lean<PoolDoc[]>().exec();
      return ds.map(docToPool);
    });
  }

  async saveGuest(g: Guest, fence?: Fence): Promise<Guest> {
    return this.run('saveGuest', async () => {
      await this.checkFence(fence);
      const stored = { ...g, version: (g.version ?? 0) + 1 };
      await this.cas(this.m.guests as unknown as Model<{ _id: string; version?: number }>, 'guest', g.id, g.version, guestToDoc(stored));
      return docToGuest(guestToDoc(stored));
    });
  }

  /** Create (expected undefined: an insert, refused on a duplicate _id) or replace the document
   *  whose version is `expected` (findOneAndReplace with the version in the filter). */
  private async cas(model: Model<{ _id: string; version?: number }>, what: string, id: string, expected: number | undefined, doc: { _id: string; version?: number }): Promise<void> {
    if (expected === undefined) {
      try {
        await model.collection.insertOne(doc as never, { writeConcern: this.writeConcern });
        return;
      } catch (e) {
        if ((e as { code?: number }).code !== 11000) throw e;
        const cur = await model.findById(id, { version: 1 }).lean<{ version?: number }>().exec();
        throw staleWrite(this.name, what, id, undefined, cur ? (cur.version ?? 0) : undefined);
      }
    }
    // Documents written before versions have none: version 0 matches them.
    const filter = { _id: id, version: expected === 0 ? { $in: [0, null] } : expected };
    const before = await model.collection.findOneAndReplace(filter as never, doc as never, { writeConcern: this.writeConcern, includeResultMetadata: false });
    if (before === null) {
      const cur = await model.findById(id, { version: 1 }).lean<{ version?: number }>().exec();
      throw staleWrite(this.name, what, id, expected, cur ? (cur.version ?? 0) : undefined);
    }
  }

  /**
   * Refuse a write whose token is not the pool's lease token. A read before the write, not a
   * transaction (standalone servers have none): the window between them is covered by the
   * holder's rule of stopping before its lease can expire (controller/leadership.ts), since a
   * new token exists only after the old lease expired.
   */
  private async checkFence(fence: Fence | undefined): Promise<void> {
    if (!fence) return;
    const cur = await this.m.leases.findById(fence.pool).lean<LeaseDoc>().exec();
    if (!cur || cur.token !== fence.token) throw fenced(this.name, fence.pool, fence.token, cur?.token);
  }

  async getGuest(id: string): Promise<Guest | undefined> {
    return this.run('getGuest', async () => {
      const d = await this.m.guests.findById(id).lean<GuestDoc>().exec();
      return d ? docToGuest(d) : undefined;
    });
  }

  async listGuests(filter: GuestFilter = {}): Promise<Guest[]> {
    return this.run('listGuests', async () => {
      const q: Record<string, unknown> = {};
      if (filter.pool !== undefined) q.pool = filter.pool;
      if (filter.states !== undefined) q.state = { $in: [...filter.states] };
      const ds = await this.m.guests.find(q).sort({ pool: 1, createdAt: 1, _id: 1 }).lean<GuestDoc[]>().exec();
      return ds.map(docToGuest);
    });
  }

  async appendEvent(e: ScaleEvent, fence?: Fence): Promise<ScaleEvent> {
    return this.run('appendEvent', async () => {
      await this.checkFence(fence);
      const doc = new this.m.events(eventToDoc(e));
      await doc.save();
      return docToEvent(doc.toObject() as EventDoc);
    });
  }

  async updateEvent(id: number | string, outcome: ScaleEvent['outcome'], detail?: string, fence?: Fence): Promise<void> {
    await this.run('updateEvent', async () => {
      if (typeof id !== 'string' || !/^[0-9a-f]{24}$/i.test(id)) {
        throw storeError(this.name, `event id ${JSON.stringify(id)} is not a MongoDB event id (24 hex digits)`, { id });
      }
      await this.checkFence(fence);
      const set: Record<string, unknown> = { outcome };
      if (detail !== undefined) set.detail = detail;
      const res = await this.m.events.updateOne({ _id: new mongoose.Types.ObjectId(id) }, { $set: set }).exec();
      if (res.matchedCount === 0) throw storeError(this.name, `no event with id ${id}`, { id });
    });
  }

  async listEvents(filter: EventFilter = {}): Promise<ScaleEvent[]> {
    return this.run('listEvents', async () => {
      const q = filter.pool !== undefined ? { pool: filter.pool } : {};
      const ds = await this.m.events
        .find(q)
        .sort({ at: -1, _id: -1 })
        .limit(clampEventLimit(filter.limit))
        .lean<EventDoc[]>()
        .exec();
      return ds.map(docToEvent);
    });
  }

  // ---- leases, members, history. Times are the server's ($$NOW as epoch ms), so processes on
  // machines with different clocks agree on who holds what. Values go into update pipelines
  // through $literal: a string starting with `$` would otherwise be read as a field path.

  async acquireLease(pool: string, holder: string, ttlMs: number, api?: string): Promise<Lease | undefined> {
    return this.run('acquireLease', async () => {
      const mine = { $eq: ['$holder', { $literal: holder }] };
      const takeable = { $or: [mine, { $lte: ['$expiresAt', NOW_MS] }] };
      let before: LeaseDoc | null;
      try {
        before = await this.m.leases.collection.findOneAndUpdate(
          { _id: pool, $expr: takeable } as never,
          [{
            $set: {
              token: { $cond: [mine, '$token', { $add: [{ $ifNull: ['$token', 0] }, 1] }] },
              acquiredAt: { $cond: [mine, '$acquiredAt', NOW_MS] },
              holder: { $literal: holder },
              expiresAt: { $add: [NOW_MS, ttlMs] },
              // $$REMOVE drops the field: a holder without an API leaves none of an earlier one's.
              api: api === undefined ? '$$REMOVE' : { $literal: api },
            },
          }],
          { upsert: true, returnDocument: 'before', writeConcern: this.writeConcern, includeResultMetadata: false },
        ) as LeaseDoc | null;
      } catch (e) {
        // The filter did not match an existing lease, so the upsert tried to insert its _id: held by another.
        if ((e as { code?: number }).code === 11000) return undefined;
        throw e;
      }
      const after = await this.m.leases.findById(pool).lean<LeaseDoc>().exec();
      if (!after || after.holder !== holder) return undefined;
      if (!before || before.holder !== holder) {
        const detail = before ? `after ${before.holder} (token ${before.token}, ${before.expiresAt === 0 ? 'released' : 'expired'})` : 'first holder';
        await new this.m.history(historyToDoc({ pool, at: after.acquiredAt, kind: 'lease-acquired', holder, token: after.token, detail })).save();
      }
      return docToLease(after);
    });
  }

  async renewLease(pool: string, holder: string, token: number, ttlMs: number): Promise<Lease> {
    return this.run('renewLease', async () => {
      const after = await this.m.leases.collection.findOneAndUpdate(
        { _id: pool, holder, token } as never,
        [{ $set: { expiresAt: { $add: [NOW_MS, ttlMs] } } }],
        { returnDocument: 'after', writeConcern: this.writeConcern, includeResultMetadata: false },
      ) as LeaseDoc | null;
      if (after) return docToLease(after);
      const cur = await this.m.leases.findById(pool).lean<LeaseDoc>().exec();
      throw leaseLost(this.name, pool, holder, token, cur ?? undefined);
    });
  }

  async releaseLease(pool: string, holder: string, token: number): Promise<void> {
    await this.run('releaseLease', async () => {
      const res = await this.m.leases.updateOne({ _id: pool, holder, token, expiresAt: { $gt: 0 } }, { $set: { expiresAt: 0 } }).exec();
      if (res.modifiedCount > 0) await new this.m.history(historyToDoc({ pool, at: Date.now(), kind: 'lease-released', holder, token })).save();
    });
  }

  async getLease(pool: string): Promise<Lease | undefined> {
    return this.run('getLease', async () => {
      const d = await this.m.leases.findById(pool).lean<LeaseDoc>().exec();
      return d ? docToLease(d) : undefined;
    });
  }

  async listLeases(): Promise<Lease[]> {
    return this.run('listLeases', async () => (await this.m.leases.find().sort({ _id: 1 }).lean<LeaseDoc[]>().exec()).map(docToLease));
  }

  async heartbeat(member: { id: string; api?: string; pools: readonly string[] }, ttlMs: number): Promise<void> {
    await this.run('heartbeat', () => this.m.members.collection.updateOne(
      { _id: member.id } as never,
      [{ $set: { api: { $literal: member.api ?? null }, pools: { $literal: [...member.pools] }, startedAt: { $ifNull: ['$startedAt', NOW_MS] }, expiresAt: { $add: [NOW_MS, ttlMs] } } }],
      { upsert: true, writeConcern: this.writeConcern },
    ));
  }

  async listMembers(): Promise<Member[]> {
    return this.run('listMembers', async () => {
      const ds = await this.m.members.find({ $expr: { $gt: ['$expiresAt', NOW_MS] } }).sort({ _id: 1 }).lean<MemberDoc[]>().exec();
      return ds.map(docToMember);
    });
  }

  async removeMember(id: string): Promise<void> {
    await this.run('removeMember', () => this.m.members.deleteOne({ _id: id }).exec());
  }

  async appendHistory(e: PoolHistoryEntry, fence?: Fence): Promise<PoolHistoryEntry> {
    return this.run('appendHistory', async () => {
      await this.checkFence(fence);
      const doc = new this.m.history(historyToDoc(e));
      await doc.save();
      return docToHistory(doc.toObject() as HistoryDoc);
    });
  }

  async listHistory(filter: EventFilter = {}): Promise<PoolHistoryEntry[]> {
    return this.run('listHistory', async () => {
      const q = filter.pool !== undefined ? { pool: filter.pool } : {};
      const ds = await this.m.history.find(q).sort({ at: -1, _id: -1 }).limit(clampEventLimit(filter.limit)).lean<HistoryDoc[]>().exec();
      return ds.map(docToHistory);
    });
  }

  async appendSample(pool: string, s: PoolSample, fence?: Fence): Promise<void> {
    await this.run('appendSample', async () => {
      await this.checkFence(fence);
      await new this.m.samples(sampleToDoc(pool, s)).save();
    });
  }

  async listSamples(pool: string, since?: number, until?: number): Promise<PoolSample[]> {
    return this.run('listSamples', async () => {
      const at: Record<string, number> = {};
      if (since !== undefined) at.$gte = since;
      if (until !== undefined) at.$lte = until;
      const q: Record<string, unknown> = { pool };
      if (since !== undefined || until !== undefined) q.at = at;
      const ds = await this.m.samples.find(q).sort({ at: 1, _id: 1 }).lean<SampleDoc[]>().exec();
      return ds.map(docToSample);
    });
  }

  async pruneSamples(olderThan: number): Promise<number> {
    return this.run('pruneSamples', async () => (await this.m.samples.deleteMany({ at: { $lt: olderThan } }).exec()).deletedCount);
  }

  async pruneHistory(olderThan: number): Promise<{ guests: number; events: number }> {
    return this.run('pruneHistory', async () => {
      // Two deletes, not a transaction (a standalone server has none); each is safe to repeat.
      const g = await this.m.guests.deleteMany({ state: { $in: [...FINISHED_STATES] }, updatedAt: { $lt: olderThan } }).exec();
      const e = await this.m.events.deleteMany({ at: { $lt: olderThan } }).exec();
      const h = await this.m.history.deleteMany({ at: { $lt: olderThan } }).exec();
      return { guests: g.deletedCount, events: e.deletedCount + h.deletedCount };
    });
  }

  /** Drop the whole database. For tests and `gridhost` maintenance only. */
  async dropDatabase(): Promise<void> {
    await this.run('dropDatabase', () => this.conn.dropDatabase());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.run('close', () => this.conn.close());
  }

  private async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      if (this.closed && op !== 'close') throw storeError(this.name, `${op} called after close (${this.where})`, { op });
      return await fn();
    } catch (e) {
      if (e instanceof GridhostError) throw e;
      throw wrapError('GH_STORE_FAILED', new Error(`mongodb ${op} on ${this.where}: ${redactString(errMessage(e))}`, { cause: e }), { op });
    }
  }
}

/** Connect, detect the server's topology for the write concern, and build the indexes. */
export async function openMongoStore(uri: string, opts: MongoStoreOptions = {}): Promise<MongoStore> {
  const where = redactString(uri);
  let conn: Connection | undefined;
  try {
    conn = mongoose.createConnection(uri, {
      // Fail fast instead of queueing operations while disconnected: the controller must
      // know a write did not happen.
      bufferCommands: false,
      autoIndex: false,
      autoCreate: false,
      serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 10_000,
      ...(opts.dbName !== undefined ? { dbName: opts.dbName } : {}),
    });
    // Failures surface as rejected operations; without a listener a later 'error' event
    // (e.g. a dropped connection) would crash the process.
    conn.on('error', () => undefined);
    await conn.asPromise();
    const wc = await detectWriteConcern(conn);
    const models = defineModels(conn, wc);
    for (const m of Object.values(models) as Model<unknown>[]) {
      await m.createCollection().catch((e: unknown) => {
        // 48 NamespaceExists: another orchestrator (or an earlier run) made it first.
        if ((e as { code?: number }).code !== 48) throw e;
      });
      await m.createIndexes();
    }
    return new MongoStore(conn, models, wc, where);
  } catch (e) {
    await conn?.close().catch(() => undefined);
    if (e instanceof GridhostError) throw e;
    throw new GridhostError(
      'GH_STORE_FAILED',
      `store operation failed: cannot open mongodb store at ${where}: ${redactString(errMessage(e))}; check store.uri and that the server is reachable`,
      { uri: where },
      { cause: e },
    );
  }
}

async function detectWriteConcern(conn: Connection): Promise<WriteConcern> {
  const admin = conn.getClient().db('admin');
  const hello = (await admin.command({ hello: 1 }).catch(() => admin.command({ isMaster: 1 }))) as { setName?: string; msg?: string };
  const replicated = hello.setName !== undefined || hello.msg === 'isdbgrid';
  return { w: replicated ? 'majority' : 1, j: true };
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The MongoDB store as a driver (store-drivers.ts): its keys and how it opens. */
export const mongodbDriver: StoreDriver = {
  keys: mongodbKeys,
  open: async (c) => {
    if (c.kind !== 'mongodb') throw new GridhostError('GH_STORE_FAILED', `the mongodb driver cannot open a ${c.kind} store`);
    return openMongoStore(c.uri);
  },
};
