// MongoDB state store via mongoose, for deployments where several orchestrators (or an
// operator's tools) share state. Same semantics as the SQLite store: both pass
// test/store/store-contract.ts.
//
// Uses its own connection (mongoose.createConnection), never the global mongoose, so a
// process may hold several stores. Writes use w:'majority' + j:true on replica sets and
// sharded clusters (a resolved write then survives a primary failover) and w:1 + j:true on a
// standalone server, where majority adds nothing.
import mongoose, { type Connection, type Model } from 'mongoose';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Guest, PoolSample, ScaleEvent } from '../domain/types.ts';
import { redactString } from '../observability/redact.ts';
import type { EventFilter, GuestFilter, PoolRecord, Store } from './store.ts';
import { clampEventLimit, FINISHED_STATES, storeError } from './store-common.ts';
import {
  defineModels, docToEvent, docToGuest, docToPool, docToSample, eventToDoc, guestToDoc, poolToDoc, sampleToDoc,
  type EventDoc, type GuestDoc, type MongoModels, type PoolDoc, type SampleDoc, type WriteConcern,
} from './mongo-models.ts';

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

  async upsertPool(p: PoolRecord): Promise<void> {
    await this.run('upsertPool', () => this.m.pools.replaceOne({ _id: p.pool }, poolToDoc(p), { upsert: true }).exec());
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

  async putGuest(g: Guest): Promise<void> {
    await this.run('putGuest', () => this.m.guests.replaceOne({ _id: g.id }, guestToDoc(g), { upsert: true }).exec());
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

  async appendEvent(e: ScaleEvent): Promise<ScaleEvent> {
    return this.run('appendEvent', async () => {
      const doc = new this.m.events(eventToDoc(e));
      await doc.save();
      return docToEvent(doc.toObject() as EventDoc);
    });
  }

  async updateEvent(id: number | string, outcome: ScaleEvent['outcome'], detail?: string): Promise<void> {
    await this.run('updateEvent', async () => {
      if (typeof id !== 'string' || !/^[0-9a-f]{24}$/i.test(id)) {
        throw storeError(this.name, `event id ${JSON.stringify(id)} is not a MongoDB event id (24 hex digits)`, { id });
      }
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

  async appendSample(pool: string, s: PoolSample): Promise<void> {
    await this.run('appendSample', () => new this.m.samples(sampleToDoc(pool, s)).save());
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
      return { guests: g.deletedCount, events: e.deletedCount };
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
