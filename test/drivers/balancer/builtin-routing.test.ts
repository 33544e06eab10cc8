import test from 'ava';
import http from 'node:http';
import { load, send, waitFor } from './helpers.ts';
import { setupPool } from './setup.ts';

const setup = setupPool;

test.serial('frontendAddress reports the port bound for listen port 0', async (t) => {
  const { front } = await setup(t);
  t.regex(front, /^127\.0\.0\.1:[1-9]\d*$/);
});

test.serial('with no backend the front end answers 503 with a JSON GH_NO_BACKEND body', async (t) => {
  const { front } = await setup(t);
  const r = await send(front);
  t.is(r.status, 503);
  t.is(r.headers['content-type'], 'application/json');
  const body = JSON.parse(r.body) as { code: string; pool: string };
  t.is(body.code, 'GH_NO_BACKEND');
  t.is(body.pool, 'web');
});

test.serial('a backend whose health check fails gets no traffic: 503 instead', async (t) => {
  const { lb, front, backend } = await setup(t);
  const sick = await backend('sick', { healthy: false });
  await lb.add('web', 'sick', sick.address);
  await waitFor('a few health checks', () => sick.checks >= 3);
  t.is((await send(front)).status, 503);
  t.is(sick.hits, 0);
  t.false((await lb.list('web'))[0]!.healthy);
});

test.serial('a new backend receives no request before its health check passes, then does', async (t) => {
  const { lb, front, backend, healthy, events } = await setup(t);
  const a = await backend('a');
  await lb.add('web', 'a', a.address);
  await healthy('a');
  const fresh = await backend('fresh', { healthy: false });
  await lb.add('web', 'fresh', fresh.address);
  for (let i = 0; i < 4; i++) t.is((await send(front)).body, 'a'); // before any check answered
  await waitFor('fresh checked twice', () => fresh.checks >= 2);
  for (let i = 0; i < 10; i++) t.is((await send(front)).body, 'a');
  t.is(fresh.hits, 0);
  fresh.healthy = true;
  await healthy('fresh');
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add((await send(front)).body);
  t.true(seen.has('fresh'));
  t.true(fresh.hits > 0);
  t.true(events.some((e) => e.kind === 'healthy' && e.id === 'fresh'));
});

test.serial('a backend rises only after riseCount passing checks', async (t) => {
  const { lb, backend, healthy } = await setup(t, { riseCount: 3 });
  const a = await backend('a');
  await lb.add('web', 'a', a.address);
  await healthy('a');
  t.true(a.checks >= 3);
});

test.serial('least-outstanding spreads concurrent load over every backend', async (t) => {
  const { lb, front, backend, healthy } = await setup(t);
  const bs = await Promise.all(['a', 'b', 'c'].map((id) => backend(id, { delayMs: 30 })));
  for (const b of bs) await lb.add('web', b.id, b.address);
  for (const b of bs) await healthy(b.id);
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const counts = await load(60, 8, async () => (await send(front, { agent })).status);
  t.deepEqual([...counts], [[200, 60]]);
  for (const b of bs) t.true(b.hits > 0, `${b.id} got no traffic`);
  // served is counted when the proxy's side of the exchange closes, just after the client has it
  await waitFor('60 served', async () => (await lb.list('web')).reduce((n, s) => n + s.served, 0) === 60);
  t.is((await lb.list('web')).reduce((n, s) => n + s.served, 0), 60);
});

test.serial('requests go to an idle backend rather than one with requests in flight', async (t) => {
  const { lb, front, backend, healthy } = await setup(t);
  const slow = await backend('slow');
  const fast = await backend('fast');
  await lb.add('web', 'slow', slow.address);
  await lb.add('web', 'fast', fast.address);
  await healthy('slow');
  await healthy('fast');
  // Park one request on each; release only the fast one, so slow keeps one in flight.
  slow.held = true;
  fast.held = true;
  const parked = [send(front), send(front)];
  await waitFor('both reached', () => slow.hits === 1 && fast.hits === 1);
  fast.release();
  await waitFor('fast idle', async () => (await lb.list('web')).find((s) => s.id === 'fast')!.active === 0);
  t.is((await lb.list('web')).find((s) => s.id === 'slow')!.active, 1);
  for (let i = 0; i < 5; i++) t.is((await send(front)).body, 'fast');
  slow.release();
  await Promise.all(parked);
});

test.serial('request and response bodies stream through unchanged and X-Forwarded-For is added', async (t) => {
  const { lb, front, backend, healthy } = await setup(t);
  const a = await backend('a');
  await lb.add('web', 'a', a.address);
  await healthy('a');
  const big = Buffer.alloc(2 * 1024 * 1024, 'x');
  big.write('start', 0);
  big.write('end', big.length - 3);
  const r = await send(front, { method: 'POST', path: '/echo', body: big });
  t.is(r.status, 200);
  t.is(r.body.length, big.length);
  t.true(r.body === big.toString());
  t.is(r.headers['x-seen-forwarded-for'], '127.0.0.1');
  const chained = await send(front, { headers: { 'x-forwarded-for': '10.0.0.7' } });
  t.is(chained.headers['x-seen-forwarded-for'], '10.0.0.7, 127.0.0.1');
});

test.serial('list reports address, admin, health, active and served per backend', async (t) => {
  const { lb, front, backend, healthy } = await setup(t);
  const a = await backend('a');
  await lb.add('web', 'a', a.address);
  t.deepEqual(await lb.list('web'), [{ id: 'a', address: a.address, admin: 'ready', healthy: false, active: 0, served: 0, failed: 0 }]);
  await healthy('a');
  a.held = true;
  const inflight = send(front);
  await waitFor('one in flight', () => a.hits === 1);
  t.like((await lb.list('web'))[0], { active: 1, served: 0 });
  a.release();
  t.is((await inflight).status, 200);
  await waitFor('served counted', async () => (await lb.list('web'))[0]!.served === 1);
  await lb.setDrain('web', 'a');
  t.deepEqual(await lb.list('web'), [{ id: 'a', address: a.address, admin: 'drain', healthy: true, active: 0, served: 1, failed: 0 }]);
});

test.serial('add of an existing id with the same address is a no-op that keeps its state', async (t) => {
  const { lb, backend, healthy } = await setup(t);
  const a = await backend('a');
  await lb.add('web', 'a', a.address);
  await healthy('a');
  await lb.add('web', 'a', a.address);
  const list = await lb.list('web');
  t.is(list.length, 1);
  t.true(list[0]!.healthy);
});

test.serial('add of an existing id with a new address replaces it and starts unhealthy', async (t) => {
  const { lb, front, backend, healthy } = await setup(t);
  const a = await backend('a');
  const a2 = await backend('a2');
  await lb.add('web', 'a', a.address);
  await healthy('a');
  await lb.add('web', 'a', a2.address);
  const list = await lb.list('web');
  t.is(list.length, 1);
  t.like(list[0], { address: a2.address, healthy: false });
  await healthy('a');
  t.is((await send(front)).body, 'a2');
});
