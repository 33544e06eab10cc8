// MongoDB documents of the store: their shapes, the mongoose schemas and indexes, and the pure
// mapping between domain values and documents (split from mongo-store.ts; tested through it).
import { defineHostModel, type HostDoc } from './mongo-host-model.ts';
import mongoose, { Schema, type Connection, type Model } from 'mongoose';
import type { PoolMemory } from '../decision/pool-memory.ts';
import type { SignalBook } from '../decision/signal-book.ts';
import type { RolloutRecord } from '../decision/rollout-plan.ts';
import type { BreakerState } from '../controller/circuit-breaker.ts';
import type { Decision, DecisionInputs, EventDirection, Guest, GuestHistoryEntry, GuestState, MetricValues, OperatorAction, PoolControl, PoolSample, ScaleEvent } from '../domain/types.ts';
import type { Lease, Member, PoolHistoryEntry, PoolRecord } from './store.ts';

// ---- documents as stored

export interface PoolDoc {
  _id: string;
  /** Compare-and-set version; absent on documents written before versions (read as 0). */
  version?: number;
  file: string;
  desired: number;
  lastScaleOutAt?: number;
  lastScaleInAt?: number;
  managed: boolean;
  retiredAt?: number;
  control?: PoolControl;
  updatedAt: number;
  memory?: PoolMemory;
  breaker?: BreakerState;
  lastDecision?: Decision;
  signals?: SignalBook;
  rollout?: RolloutRecord;
}

export interface GuestDoc {
  _id: string;
  version?: number;
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
  history?: GuestHistoryEntry[];
}

export interface EventDoc {
  _id: mongoose.Types.ObjectId;
  pool: string;
  at: number;
  direction: EventDirection;
  from: number;
  to: number;
  reason: string;
  inputs: DecisionInputs;
  outcome: ScaleEvent['outcome'];
  detail?: string;
  action?: OperatorAction;
  by?: string;
  holder?: string;
  token?: number;
}

export interface LeaseDoc {
  _id: string;
  holder: string;
  token: number;
  acquiredAt: number;
  expiresAt: number;
  api?: string;
}

export interface MemberDoc {
  _id: string;
  api?: string;
  pools?: string[];
  startedAt: number;
  expiresAt: number;
}

export interface HistoryDoc {
  _id: mongoose.Types.ObjectId;
  pool: string;
  at: number;
  kind: PoolHistoryEntry['kind'];
  holder?: string;
  token?: number;
  repair?: string;
  guest?: string;
  detail?: string;
}

/** Guest ids become array entries, not keys: ids are user-influenced and keys may not hold `.` or `$`. */
export interface SampleDoc {
  pool: string;
  at: number;
  guests: { guest: string; values: MetricValues }[];
  /** Pool-wide values (PoolSample.pool), keyed prometheus:<rule> (no `.` or `$` in them). */
  poolValues?: MetricValues;
}

export type WriteConcern = { w: 'majority' | 1; j: boolean };

export interface MongoModels {
  pools: Model<PoolDoc>;
  guests: Model<GuestDoc>;
  events: Model<EventDoc>;
  samples: Model<SampleDoc>;
  leases: Model<LeaseDoc>;
  members: Model<MemberDoc>;
  history: Model<HistoryDoc>;
  hosts: Model<HostDoc>;
}

export const MODEL_NAMES = {
  pools: 'GridhostPool', guests: 'GridhostGuest', events: 'GridhostEvent', samples: 'GridhostSample',
  leases: 'GridhostLease', members: 'GridhostMember', history: 'GridhostHistory',
} as const;
export const COLLECTION_NAMES = {
  pools: 'gridhost_pools', guests: 'gridhost_guests', events: 'gridhost_events', samples: 'gridhost_samples',
  leases: 'gridhost_leases', members: 'gridhost_members', history: 'gridhost_history',
} as const;

/** Schemas and indexes. Exported so the schema can be checked without a server. */
export function defineModels(conn: Connection, writeConcern: WriteConcern): MongoModels {
  // minimize:false keeps empty objects (a guest's meta is often {}); no __v: documents are
  // replaced whole, never merged.
  const common = { minimize: false, versionKey: false as const, strict: 'throw' as const, writeConcern };

  const pool = new Schema<PoolDoc>(
    {
      _id: { type: String, required: true },
      version: Number,
      file: { type: String, required: true },
      desired: { type: Number, required: true },
      lastScaleOutAt: Number,
      lastScaleInAt: Number,
      retiredAt: Number,
      managed: { type: Boolean, required: true },
      control: { type: Schema.Types.Mixed },
      updatedAt: { type: Number, required: true },
      memory: Schema.Types.Mixed,
      breaker: Schema.Types.Mixed,
      lastDecision: Schema.Types.Mixed,
      signals: Schema.Types.Mixed,
      rollout: Schema.Types.Mixed,
    },
    { ...common, collection: COLLECTION_NAMES.pools },
  );

  const guest = new Schema<GuestDoc>(
    {
      _id: { type: String, required: true },
      version: Number,
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
      // Absent until the first step is recorded (no empty array for guests of older versions).
      history: { type: [Schema.Types.Mixed], default: undefined },
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
      action: String,
      by: String,
      holder: String,
      token: Number,
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
      poolValues: { type: Schema.Types.Mixed, required: false },
    },
    { ...common, collection: COLLECTION_NAMES.samples },
  );
  sample.index({ pool: 1, at: 1 });
  sample.index({ at: 1 });

  // Leases are found by _id (the pool); members by expiry (listMembers filters on the server's clock).
  const lease = new Schema<LeaseDoc>(
    {
      _id: { type: String, required: true },
      holder: { type: String, required: true },
      token: { type: Number, required: true },
      acquiredAt: { type: Number, required: true },
      expiresAt: { type: Number, required: true },
      api: { type: String },
    },
    { ...common, collection: COLLECTION_NAMES.leases },
  );
  const member = new Schema<MemberDoc>(
    {
      _id: { type: String, required: true },
      api: String,
      pools: [String],
      startedAt: { type: Number, required: true },
      expiresAt: { type: Number, required: true },
    },
    { ...common, collection: COLLECTION_NAMES.members },
  );
  member.index({ expiresAt: 1 });
  const history = new Schema<HistoryDoc>(
    {
      pool: { type: String, required: true },
      at: { type: Number, required: true },
      kind: { type: String, required: true },
      holder: String,
      token: Number,
      repair: String,
      guest: String,
      detail: String,
    },
    { ...common, collection: COLLECTION_NAMES.history },
  );
  history.index({ pool: 1, at: -1, _id: -1 });
  history.index({ at: -1, _id: -1 });

  return {
    leases: conn.model<LeaseDoc>(MODEL_NAMES.leases, lease),
    members: conn.model<MemberDoc>(MODEL_NAMES.members, member),
    history: conn.model<HistoryDoc>(MODEL_NAMES.history, history),
    pools: conn.model<PoolDoc>(MODEL_NAMES.pools, pool),
    guests: conn.model<GuestDoc>(MODEL_NAMES.guests, guest),
    events: conn.model<EventDoc>(MODEL_NAMES.events, event),
    samples: conn.model<SampleDoc>(MODEL_NAMES.samples, sample),
    hosts: defineHostModel(conn, common),
  };
}

// ---- mapping between domain values and documents (pure; exported for the schema test)

export function poolToDoc(p: PoolRecord): PoolDoc {
  return defined({
    _id: p.pool,
    version: p.version,
    file: p.file,
    desired: p.desired,
    lastScaleOutAt: p.lastScaleOutAt,
    lastScaleInAt: p.lastScaleInAt,
    managed: p.managed,
    retiredAt: p.retiredAt,
    control: p.control === undefined ? undefined : { ...p.control },
    updatedAt: p.updatedAt,
    memory: p.memory,
    breaker: p.breaker,
    lastDecision: p.lastDecision,
    signals: p.signals,
    rollout: p.rollout,
  });
}

export function docToPool(d: PoolDoc): PoolRecord {
  return defined({
    pool: d._id,
    version: d.version ?? 0,
    file: d.file,
    desired: d.desired,
    lastScaleOutAt: opt(d.lastScaleOutAt),
    lastScaleInAt: opt(d.lastScaleInAt),
    managed: d.managed,
    retiredAt: opt(d.retiredAt),
    control: d.control === null || d.control === undefined ? undefined : { ...d.control },
    updatedAt: d.updatedAt,
    memory: opt(d.memory),
    breaker: opt(d.breaker),
    lastDecision: opt(d.lastDecision),
    signals: opt(d.signals),
    rollout: opt(d.rollout),
  });
}

export function guestToDoc(g: Guest): GuestDoc {
  const { id, ...rest } = g;
  return defined({ _id: id, ...rest, meta: { ...g.meta }, ...(g.history ? { history: g.history.map((e) => ({ ...e })) } : {}) });
}

export function docToGuest(d: GuestDoc): Guest {
  return defined({
    id: d._id,
    version: d.version ?? 0,
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
    history: d.history ? d.history.map((e) => ({ ...e })) : undefined,
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
    action: e.action,
    by: e.by,
    holder: e.holder,
    token: e.token,
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
    action: opt(d.action),
    by: opt(d.by),
    holder: opt(d.holder),
    token: opt(d.token),
  });
}

export function docToLease(d: LeaseDoc): Lease {
  return defined({ pool: d._id, holder: d.holder, token: d.token, acquiredAt: d.acquiredAt, expiresAt: d.expiresAt, api: opt(d.api) });
}

export function docToMember(d: MemberDoc): Member {
  return defined({ id: d._id, api: opt(d.api), pools: [...(d.pools ?? [])], startedAt: d.startedAt, expiresAt: d.expiresAt });
}

export function historyToDoc(e: PoolHistoryEntry): Omit<HistoryDoc, '_id'> {
  return defined({ pool: e.pool, at: e.at, kind: e.kind, holder: e.holder, token: e.token, repair: e.repair, guest: e.guest, detail: e.detail });
}

export function docToHistory(d: HistoryDoc): PoolHistoryEntry {
  return defined({
    id: d._id.toHexString(), pool: d.pool, at: d.at, kind: d.kind, holder: opt(d.holder), token: opt(d.token),
    repair: opt(d.repair), guest: opt(d.guest), detail: opt(d.detail),
  });
}

export function sampleToDoc(pool: string, s: PoolSample): SampleDoc {
  return { pool, at: s.at, guests: Object.entries(s.guests).map(([guest, values]) => ({ guest, values: { ...values } })), ...(s.pool !== undefined ? { poolValues: { ...s.pool } } : {}) };
}

export function docToSample(d: SampleDoc): PoolSample {
  const guests: Record<string, MetricValues> = {};
  for (const x of d.guests ?? []) guests[x.guest] = { ...(x.values ?? {}) };
  return { at: d.at, guests, ...(d.poolValues ? { pool: { ...d.poolValues } } : {}) };
}

/** Optional fields read back as absent, never null. */
function opt<T>(v: T | null | undefined): T | undefined {
  return v === null ? undefined : v;
}

function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}
