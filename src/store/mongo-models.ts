// MongoDB documents of the store: their shapes, the mongoose schemas and indexes, and the pure
// mapping between domain values and documents (split from mongo-store.ts; tested through it).
import mongoose, { Schema, type Connection, type Model } from 'mongoose';
import type { DecisionInputs, Direction, Guest, GuestState, MetricValues, PoolSample, ScaleEvent } from '../domain/types.ts';
import type { PoolRecord } from './store.ts';

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
  // (state, updatedAt) serves lookups by state and pruneHistory's range by age.
  guest.index({ state: 1, updatedAt: 1 });
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

/** Optional fields read back as absent, never null. */
function opt<T>(v: T | null | undefined): T | undefined {
  return v === null ? undefined : v;
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}
