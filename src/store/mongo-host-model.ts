// The MongoDB collection of host records (drain-host): schema and mapping, beside the others
// in mongo-models.ts. A host is its `_id`; the drain is one small sub-document.
import { Schema, type Connection, type Model } from 'mongoose';
import type { HostRecord } from './store.ts';

export interface HostDoc {
  _id: string;
  version?: number;
  drain?: { by: string; reason: string; at: number } | null;
  updatedAt: number;
}

export const HOST_MODEL_NAME = 'GridhostHost';
export const HOST_COLLECTION = 'gridhost_hosts';

export function defineHostModel(conn: Connection, common: Record<string, unknown>): Model<HostDoc> {
  const host = new Schema<HostDoc>(
    {
      _id: { type: String, required: true },
      version: Number,
      drain: { type: Schema.Types.Mixed },
      updatedAt: { type: Number, required: true },
    },
    { ...common, collection: HOST_COLLECTION },
  );
  return conn.model<HostDoc>(HOST_MODEL_NAME, host);
}

export function hostToDoc(h: HostRecord): HostDoc {
  const d: HostDoc = { _id: h.host, updatedAt: h.updatedAt };
  if (h.version !== undefined) d.version = h.version;
  if (h.drain !== undefined) d.drain = { by: h.drain.by, reason: h.drain.reason, at: h.drain.at };
  return d;
}

export function docToHost(d: HostDoc): HostRecord {
  const h: HostRecord = { host: d._id, version: d.version ?? 0, updatedAt: d.updatedAt };
  if (d.drain !== undefined && d.drain !== null) h.drain = { by: d.drain.by, reason: d.drain.reason, at: d.drain.at };
  return h;
}
