// The MongoDB store runs the shared contract when MONGODB_URI points at a server (any
// database on it: each test uses its own database, dropped afterwards). Without a server the
// schema, indexes and document mapping are still checked, and a connection failure is proven
// to surface as GH_STORE_FAILED without leaking the password.
import test from 'ava';
import { createServer, type Server } from 'node:net';
import mongoose from 'mongoose';
import { GridhostError } from '../../src/errors/errors.ts';
import type { Guest, PoolSample } from '../../src/domain/types.ts';
import type { PoolHistoryEntry } from '../../src/store/store.ts';
import {
  COLLECTION_NAMES,
  MODEL_NAMES,
  defineModels,
  docToEvent,
  docToGuest,
  docToHistory,
  docToLease,
  docToMember,
  historyToDoc,
  type HistoryDoc,
  type LeaseDoc,
  type MemberDoc,
  docToPool,
  docToSample,
  eventToDoc,
  guestToDoc,
  openMongoStore,
  poolToDoc,
  sampleToDoc,
  type EventDoc,
  type GuestDoc,
  type PoolDoc,
  type SampleDoc,
} from '../../src/store/mongo-store.ts';
import { event, guest, pool, runStoreContract } from './store-contract.ts';
import { docToHost, hostToDoc, type HostDoc } from '../../src/store/mongo-host-model.ts';

const uri = process.env.MONGODB_URI;

if (uri) {
  const dbNames: string[] = [];
  let n = 0;
  runStoreContract('mongodb', async () => {
    const dbName = `gridhost_test_${process.pid}_${++n}`;
    dbNames.push(dbName);
    return openMongoStore(uri, { dbName });
  });
  test.after.always(async () => {
    for (const dbName of dbNames) {
      const s = await openMongoStore(uri, { dbName });
      await s.dropDatabase();
      await s.close();
    }
  });
} else {
  test('MongoStore module loads and defines its models, collections and indexes (contract needs MONGODB_URI)', (t) => {
    t.log('MONGODB_URI not set: the MongoDB store contract (versions, compare-and-set, leases, fencing) was SKIPPED; only the schema and mapping are checked');
    const conn = mongoose.createConnection();
    t.teardown(() => conn.close());
    const m = defineModels(conn, { w: 'majority', j: true });
    const keys = Object.keys(MODEL_NAMES) as (keyof typeof MODEL_NAMES)[];
    t.deepEqual(keys.map((k) => m[k].modelName), keys.map((k) => MODEL_NAMES[k]));
    t.deepEqual(keys.map((k) => m[k].collection.name), keys.map((k) => COLLECTION_NAMES[k]));
    const idx = (model: mongoose.Model<any>) => model.schema.indexes().map(([fields]) => fields);
    t.deepEqual(idx(m.pools), []);
    t.deepEqual(idx(m.guests), [{ pool: 1, state: 1 }, { state: 1, updatedAt: 1 }, { pool: 1, createdAt: 1, _id: 1 }]);
    t.deepEqual(idx(m.events), [
      { pool: 1, at: -1, _id: -1 },
      { at: -1, _id: -1 },
    ]);
    t.deepEqual(idx(m.samples), [{ pool: 1, at: 1 }, { at: 1 }]);
    t.deepEqual(idx(m.leases), []);
    t.deepEqual(idx(m.members), [{ expiresAt: 1 }]);
    t.deepEqual(idx(m.history), [{ pool: 1, at: -1, _id: -1 }, { at: -1, _id: -1 }]);
    t.is(m.hosts.collection.name, 'gridhost_hosts');
    t.deepEqual(idx(m.hosts), []);
    t.deepEqual(m.guests.schema.get('writeConcern'), { w: 'majority', j: true });
  });
}

// Always run: the mapping through mongoose's casting is what a server would store.

/** Cast through the model as save()/replaceOne() do; the document must also pass validation. */
async function roundTrip<D>(model: mongoose.Model<any>, doc: object): Promise<D> {
  const d = new model(doc);
  await d.validate();
  return d.toBSON() as D;
}

test('guests, pools, events and samples survive mongoose casting exactly (no server needed)', async (t) => {
  const conn = mongoose.createConnection();
  t.teardown(() => conn.close());
  const m = defineModels(conn, { w: 1, j: true });

  const full: Guest = guest('web-a1', {
    state: 'healthy',
    address: '127.0.0.1:4000',
    healthyAt: 11,
    meta: { pid: '7', 'dotted.key': 'x' },
    error: 'e',
    version: 3,
  });
  const minimal: Guest = guest('web-min', { version: 1 });
  for (const g of [full, minimal]) t.deepEqual(docToGuest(await roundTrip<GuestDoc>(m.guests, guestToDoc(g))), g);
  // A document written before versions reads as version 0 (a compare-and-set from 0 matches it).
  const { version: _v, ...legacy } = guestToDoc(minimal);
  t.is(docToGuest(await roundTrip<GuestDoc>(m.guests, legacy)).version, 0);
  t.deepEqual((await roundTrip<GuestDoc>(m.guests, guestToDoc(minimal))).meta, {}, 'empty meta is kept (minimize: false)');

  for (const p of [pool('web', { version: 1 }), pool('web', { lastScaleInAt: 3, lastScaleOutAt: 4, managed: false, version: 7 }), pool('old', { managed: false, desired: 0, retiredAt: 5, version: 2 }),
    pool('sig', { version: 4, signals: { entries: [{ key: 'alert:fp1:t', rule: 'burst.fast', at: 6, from: 'alert X', servedAt: 7, servedBy: 'scale-out 2 -> 3' }, { key: 'key:k', rule: 'burst.fast', at: 8, from: 'ci' }], served: [{ rule: 'burst.fast', at: 7 }] } })]) {
    t.deepEqual(docToPool(await roundTrip<PoolDoc>(m.pools, poolToDoc(p))), p);
  }

  const e = event({ detail: 'd', holder: 'proc-a', token: 4 });
  const stored = await roundTrip<EventDoc>(m.events, eventToDoc(e));
  const back = docToEvent(stored);
  t.regex(String(back.id), /^[0-9a-f]{24}$/);
  t.deepEqual({ ...back, id: undefined }, { ...e, id: undefined });

  const s: PoolSample = { at: 5, guests: { 'web-a1': { cpu: 12.5, rps: 3 }, 'web.b': {} } };
  t.deepEqual(docToSample(await roundTrip<SampleDoc>(m.samples, sampleToDoc('web', s))), s);

  const h: PoolHistoryEntry = { pool: 'web', at: 9, kind: 'repair', repair: 'record-gone', guest: 'web-a1', detail: 'gone' };
  const hb = docToHistory(await roundTrip<HistoryDoc>(m.history, historyToDoc(h)));
  t.deepEqual({ ...hb, id: undefined }, { ...h, id: undefined });
  const lease = await roundTrip<LeaseDoc>(m.leases, { _id: 'web', holder: 'proc-a', token: 2, acquiredAt: 1, expiresAt: 2 });
  t.deepEqual(docToLease(lease), { pool: 'web', holder: 'proc-a', token: 2, acquiredAt: 1, expiresAt: 2 });
  t.deepEqual(docToMember(await roundTrip<MemberDoc>(m.members, { _id: 'proc-a', pools: ['web'], startedAt: 1, expiresAt: 2 })), { id: 'proc-a', pools: ['web'], startedAt: 1, expiresAt: 2 });
  const host = { host: 'dom0-a', version: 2, drain: { by: 'alice@ops', reason: 'kernel', at: 5 }, updatedAt: 6 };
  t.deepEqual(docToHost(await roundTrip<HostDoc>(m.hosts, hostToDoc(host))), host);
  t.deepEqual(docToHost(await roundTrip<HostDoc>(m.hosts, hostToDoc({ host: 'dom0-b', version: 1, updatedAt: 1 }))), { host: 'dom0-b', version: 1, updatedAt: 1 });
});

test('an unreachable server gives GH_STORE_FAILED naming the URI with its password masked', async (t) => {
  // A listener that accepts and immediately closes: a real loopback port that is not MongoDB.
  const server: Server = createServer((sock) => sock.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const e = await t.throwsAsync(openMongoStore(`mongodb://gh:s3cretpw@127.0.0.1:${port}/gridhost`, { serverSelectionTimeoutMS: 300 }));
  t.true(e instanceof GridhostError);
  t.is((e as GridhostError).code, 'GH_STORE_FAILED');
  t.true(e!.message.includes(`mongodb://gh:***@127.0.0.1:${port}/gridhost`), e!.message);
  t.false(e!.message.includes('s3cretpw'));
  t.false(JSON.stringify((e as GridhostError).toJSON()).includes('s3cretpw'));
});
