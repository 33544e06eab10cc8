// MongoDB state store via mongoose, for deployments where several orchestrators (or an
// operator's tools) share state. Same semantics as the SQLite store: both pass
// test/store/store-contract.ts.
//
// Uses its own connection (mongoose.createConnection), never the global mongoose, so a
// process may hold several stores. Writes use w:'majority' + j:true on replica sets and
// sharded clusters (a resolved write then survives a primary failover) and w:1 + j:true on a
// standalone server, where majority adds nothing.
import mongoose, { Schema, type Connection, type Model } from 'mongoose';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { DecisionInputs, Direction, Guest, GuestState, MetricValues, PoolSample, ScaleEvent } from '../domain/types.ts';
import { redactString } from '../observability/redact.ts';
import type { EventFilter, GuestFilter, PoolRecord, Store } from './store.ts';
import { clampEventLimit, storeError } from './store-common.ts';

// ---- documents as stored

export interface PoolDoc {
  _id: string;
  file: string;
  desired: number;
  lastScaleOutAt?: number;
  lastScaleInAt?: number;
  managed: boolean;
  updatedAt: number;
}

export interface GuestDoc {
  _id: string;
  pool: string;
  state: GuestState;
  driver: string;
  host: string;
  address?: string;
  createdAt: number;
  healthyAt?: number;
  updatedAt: number;
  meta: Record<string, string>;
  error?: string;
}

export interface EventDoc {
  _id: mongoose.Types.ObjectId;
  pool: string;
  at: number;
  direction: Direction;
  from: number;
  to: number;
  reason: string;
  inputs: DecisionInputs;
  outcome: ScaleEvent['outcome'];
  detail?: string;
}

/** Guest ids become array entries, not keys: ids are user-influenced and keys may not hold `.` or `$`. */
export interface SampleDoc {
  pool: string;
  at: number;
  guests: { guest: string; values: MetricValues }[];
}

export type WriteConcern = { w: 'majority' | 1; j: boolean };

export interface MongoModels {
  pools: Model<PoolDoc>;
  guests: Model<GuestDoc>;
  events: Model<EventDoc>;
  samples: Model<SampleDoc>;
}

export const MODEL_NAMES = { pools: 'GridhostPool', guests: 'GridhostGuest', events: 'GridhostEvent', samples: 'GridhostSample' } as const;
export const COLLECTION_NAMES = { pools: 'gridhost_pools', guests: 'gridhost_guests', events: 'gridhost_events', samples: 'gridhost_samples' } as const;

/** Schemas and indexes. Exported so the schema can be checked without a server. */
export function defineModels(conn: Connection, writeConcern: WriteConcern): MongoModels {
  // minimize:false keeps empty objects (a guest's meta is often {}); no __v: documents are
  // replaced whole, never merged.
  const common = { minimize: false, versionKey: false as const, strict: 'throw' as const, writeConcern };

  const pool = new Schema<PoolDoc>(
    {
      _id: { type: String, required: true },
      file: { type: String, required: true },
      desired: { type: Number, required: true },
      lastScaleOutAt: Number,
      lastScaleInAt: Number,
      managed: { type: Boolean, required: true },
      updatedAt: { type: Number, required: true },
    },
    { ...common, collection: COLLECTION_NAMES.pools },
  );

  const guest = new Schema<GuestDoc>(
    {
      _id: { type: String, required: true },
      pool: { type: String, required: true },
      state: { type: String, required: true },
      driver: { type: String, required: true },
      host: { type: String, required: true },
      address: String,
      createdAt: { type: Number, required: true },
      healthyAt: Number,
      updatedAt: { type: Number, required: true },
      meta: { type: Schema.Types.Mixed, required: true },
      error: String,
    },
    { ...common, collection: COLLECTION_NAMES.guests },
  );
  guest.index({ pool: 1, state: 1 });
  guest.index({ state: 1 });
  guest.index({ pool: 1, createdAt: 1, _id: 1 });

  const event = new Schema<EventDoc>(
    {
      pool: { type: String, required: true },
      at: { type: Number, required: true },
      direction: { type: String, required: true },
      from: { type: Number, required: true },
      to: { type: Number, required: true },
      reason: { type: String, required: true },
      inputs: { type: Schema.Types.Mixed, required: true },
      outcome: { type: String, required: true },
      detail: String,
    },
    { ...common, collection: COLLECTION_NAMES.events },
  );
  event.index({ pool: 1, at: -1, _id: -1 });
  event.index({ at: -1, _id: -1 });

  const sample = new Schema<SampleDoc>(
    {
      pool: { type: String, required: true },
      at: { type: Number, required: true },
      guests: [{ _id: false, guest: { type: String, required: true }, values: { type: Schema.Types.Mixed, required: true } }],
    },
    { ...common, collection: COLLECTION_NAMES.samples },
  );
  sample.index({ pool: 1, at: 1 });
  sample.index({ at: 1 });

  return {
    pools: conn.model<PoolDoc>(MODEL_NAMES.pools, pool),
    guests: conn.model<GuestDoc>(MODEL_NAMES.guests, guest),
    events: conn.model<EventDoc>(MODEL_NAMES.events, event),
    samples: conn.model<SampleDoc>(MODEL_NAMES.samples, sample),
  };
}

// ---- mapping between domain values and documents (pure; exported for the schema test)

export function poolToDoc(p: PoolRecord): PoolDoc {
  return defined({
    _id: p.pool,
    file: p.file,
    desired: p.desired,
    lastScaleOutAt: p.lastScaleOutAt,
    lastScaleInAt: p.lastScaleInAt,
    managed: p.managed,
    updatedAt: p.updatedAt,
  });
}

export function docToPool(d: PoolDoc): PoolRecord {
  return defined({
    pool: d._id,
    file: d.file,
    desired: d.desired,
    lastScaleOutAt: opt(d.lastScaleOutAt),
    lastScaleInAt: opt(d.lastScaleInAt),
    managed: d.managed,
    updatedAt: d.updatedAt,
  });
}

export function guestToDoc(g: Guest): GuestDoc {
  const { id, ...rest } = g;
  return defined({ _id: id, ...rest, meta: { ...g.meta } });
}

export function docToGuest(d: GuestDoc): Guest {
  return defined({
    id: d._id,
    pool: d.pool,
    state: d.state,
    driver: d.driver,
    host: d.host,
    address: opt(d.address),
    createdAt: d.createdAt,
    healthyAt: opt(d.healthyAt),
    updatedAt: d.updatedAt,
    meta: { ...(d.meta ?? {}) },
    error: opt(d.error),
  });
}

export function eventToDoc(e: ScaleEvent): Omit<EventDoc, '_id'> {
  return defined({
    pool: e.pool,
    at: e.at,
    direction: e.direction,
    from: e.from,
    to: e.to,
    reason: e.reason,
    inputs: e.inputs,
    outcome: e.outcome,
    detail: e.detail,
  });
}

export function docToEvent(d: EventDoc): ScaleEvent {
  return defined({
    id: d._id.toHexString(),
    pool: d.pool,
    at: d.at,
    direction: d.direction,
    from: d.from,
    to: d.to,
    reason: d.reason,
    inputs: d.inputs,
    outcome: d.outcome,
    detail: opt(d.detail),
  });
}

export function sampleToDoc(pool: string, s: PoolSample): SampleDoc {
  return { pool, at: s.at, guests: Object.entries(s.guests).map(([guest, values]) => ({ guest, values: { ...values } })) };
}

export function docToSample(d: SampleDoc): PoolSample {
  const guests: Record<string, MetricValues> = {};
  for (const x of d.guests ?? []) guests[x.guest] = { ...(x.values ?? {}) };
  return { at: d.at, guests };
}

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

/** Optional fields read back as absent, never null. */
function opt<T>(v: T | null | undefined): T | undefined {
  return v === null ? undefined : v;
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
