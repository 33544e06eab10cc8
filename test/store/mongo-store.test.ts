// The MongoDB store runs the shared contract when MONGODB_URI points at a server (any
// database on it: each test uses its own database, dropped afterwards). Without a server the
// schema, indexes and document mapping are still checked, and a connection failure is proven
// to surface as GH_STORE_FAILED without leaking the password.
import test from 'ava';
import { createServer, type Server } from 'node:net';
import mongoose from 'mongoose';
import { GridhostError } from '../../src/errors/errors.ts';
import type { Guest, PoolSample } from '../../src/domain/types.ts';
import {
  COLLECTION_NAMES,
  MODEL_NAMES,
  defineModels,
  docToEvent,
  docToGuest,
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
    t.log('MONGODB_URI not set: contract run skipped');
    const conn = mongoose.createConnection();
    t.teardown(() => conn.close());
    const m = defineModels(conn, { w: 'majority', j: true });
    t.deepEqual(
      [m.pools.modelName, m.guests.modelName, m.events.modelName, m.samples.modelName],
      [MODEL_NAMES.pools, MODEL_NAMES.guests, MODEL_NAMES.events, MODEL_NAMES.samples],
    );
    t.deepEqual(
      [m.pools.collection.name, m.guests.collection.name, m.events.collection.name, m.samples.collection.name],
      [COLLECTION_NAMES.pools, COLLECTION_NAMES.guests, COLLECTION_NAMES.events, COLLECTION_NAMES.samples],
    );
    const idx = (model: mongoose.Model<any>) => model.schema.indexes().map(([fields]) => fields);
    t.deepEqual(idx(m.pools), []);
    t.deepEqual(idx(m.guests), [{ pool: 1, state: 1 }, { state: 1, updatedAt: 1 }, { pool: 1, createdAt: 1, _id: 1 }]);
    t.deepEqual(idx(m.events), [
      { pool: 1, at: -1, _id: -1 },
      { at: -1, _id: -1 },
    ]);
    t.deepEqual(idx(m.samples), [{ pool: 1, at: 1 }, { at: 1 }]);
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
  });
  const minimal: Guest = guest('web-min');
  for (const g of [full, minimal]) t.deepEqual(docToGuest(await roundTrip<GuestDoc>(m.guests, guestToDoc(g))), g);
  t.deepEqual((await roundTrip<GuestDoc>(m.guests, guestToDoc(minimal))).meta, {}, 'empty meta is kept (minimize: false)');

  for (const p of [pool('web'), pool('web', { lastScaleInAt: 3, lastScaleOutAt: 4, managed: false })]) {
    t.deepEqual(docToPool(await roundTrip<PoolDoc>(m.pools, poolToDoc(p))), p);
  }

  const e = event({ detail: 'd' });
  const stored = await roundTrip<EventDoc>(m.events, eventToDoc(e));
  const back = docToEvent(stored);
  t.regex(String(back.id), /^[0-9a-f]{24}$/);
  t.deepEqual({ ...back, id: undefined }, { ...e, id: undefined });

  const s: PoolSample = { at: 5, guests: { 'web-a1': { cpu: 12.5, rps: 3 }, 'web.b': {} } };
  t.deepEqual(docToSample(await roundTrip<SampleDoc>(m.samples, sampleToDoc('web', s))), s);
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
