// The builtin balancer's serving figures (serving()) against real backends on loopback: what
// clients got, per backend and at the front end, upstream errors and timeouts, latency, in flight.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { histogramCount } from '../../../src/drivers/balancer/serving-stats.ts';
import { send, waitFor } from './helpers.ts';
import { setupPool } from './setup.ts';

test.serial('responses are counted by status class per backend and at the front end, each with a latency observation', async (t) => {
  const { lb, front, live } = await setupPool(t);
  await live(['a']);
  for (const path of ['/', '/', '/status/404', '/status/500', '/status/302']) await send(front, { path });
  await waitFor('5 served', async () => (await lb.serving('web')).backends[0]!.served === 5);
  const s = await lb.serving('web');
  const b = s.backends[0]!;
  t.deepEqual(b.stats.responses, { '1xx': 0, '2xx': 2, '3xx': 1, '4xx': 1, '5xx': 1 });
  t.is(b.stats.requests, 5);
  t.is(histogramCount(b.stats.latency!), 5);
  t.deepEqual(s.frontend.responses, b.stats.responses);
  t.is(s.frontend.requests, 5);
  t.is(histogramCount(s.frontend.latency!), 5);
  t.is(s.frontend.inFlight, 0);
  t.is(s.noBackend, 0);
});

test.serial('a request no backend can take is a 503 counted at the front end and as noBackend, not at any backend', async (t) => {
  const { lb, front, backend } = await setupPool(t);
  const a = await backend('a', { healthy: false });
  await lb.add('web', 'a', a.address);
  const r = await send(front);
  t.is(r.status, 503);
  t.is(JSON.parse(r.body).code, 'GH_NO_BACKEND');
  const s = await lb.serving('web');
  t.is(s.noBackend, 1);
  t.is(s.frontend.responses['5xx'], 1);
  t.is(s.backends[0]!.stats.requests, 0);
});

test.serial('a refused or cut connection is an upstream error of that backend; the 502 it caused counts at it', async (t) => {
  const { lb, front, live } = await setupPool(t, { healthIntervalMs: 60_000, riseCount: 1 });
  const [a] = await live(['a']);
  await a!.kill();
  const r = await send(front, { method: 'POST', path: '/echo', body: 'x' });
  t.is(r.status, 502);
  const b = (await lb.serving('web')).backends[0]!;
  t.is(b.stats.upstreamErrors, 1);
  t.is(b.stats.upstreamTimeouts, 0);
  t.is(b.stats.responses['5xx'], 1);
});

test.serial('a backend that does not begin its answer in time is an upstream timeout with a 504', async (t) => {
  const { lb, front, live } = await setupPool(t, { responseTimeoutMs: 200 });
  const [a] = await live(['a']);
  a!.held = true;
  const r = await send(front);
  t.is(r.status, 504);
  const b = (await lb.serving('web')).backends[0]!;
  t.is(b.stats.upstreamTimeouts, 1);
  t.is(b.stats.upstreamErrors, 0);
  t.is(b.stats.responses['5xx'], 1);
  a!.release();
});

test.serial('requests in flight show at the backend and the front end, and their time integral grows while they wait', async (t) => {
  const { lb, front, live } = await setupPool(t);
  const [a] = await live(['a']);
  a!.held = true;
  const pending = [send(front), send(front)];
  await waitFor('two held', () => a!.hits === 2);
  const first = await lb.serving('web');
  t.is(first.backends[0]!.stats.inFlight, 2);
  t.is(first.frontend.inFlight, 2);
  await sleep(50);
  const second = await lb.serving('web');
  t.true(second.backends[0]!.stats.inFlightSeconds! > first.backends[0]!.stats.inFlightSeconds!);
  a!.release();
  await Promise.all(pending);
  await waitFor('none in flight', async () => (await lb.serving('web')).frontend.inFlight === 0);
  t.is((await lb.serving('web')).backends[0]!.stats.queued, 0);
  t.is(histogramCount((await lb.serving('web')).backends[0]!.stats.queueTime!), 2, 'each try waited for a connection once');
});

test.serial('a backend that falls says why: the last check, how many failed, and it counts the fall', async (t) => {
  const { lb, live, events } = await setupPool(t, { fallCount: 2 });
  const [a, b] = await live(['a', 'b']);
  void a;
  b!.healthy = false;
  await waitFor('b down', async () => (await lb.serving('web')).backends.find((x) => x.id === 'b')!.healthy === false);
  const down = events.find((e) => e.kind === 'unhealthy' && e.id === 'b');
  t.regex(down!.reason!, /2 consecutive health checks of \/healthz failed, the last: HTTP 503/);
  const up = events.find((e) => e.kind === 'healthy' && e.id === 'b');
  t.regex(up!.reason!, /health checks of \/healthz passed \(HTTP 200\)/);
  const sb = (await lb.serving('web')).backends.find((x) => x.id === 'b')!;
  t.is(sb.downs, 1);
  t.like(sb.lastCheck, { ok: false, detail: 'HTTP 503' });
  t.is(typeof sb.changedAt, 'number');
});

test.serial('when every backend fails its check at once the pool fails open: requests still reach them, and it is reported', async (t) => {
  const { lb, front, live, events } = await setupPool(t);
  const bs = await live(['a', 'b']);
  for (const b of bs) b.healthy = false;
  await waitFor('fail-open', async () => (await lb.serving('web')).failOpen);
  for (let i = 0; i < 4; i++) t.is((await send(front)).status, 200, 'answered by a failing guest, not 503');
  const s = await lb.serving('web');
  t.is(s.noBackend, 0);
  t.is(s.failOpenEntered, 1);
  const open = events.find((e) => e.kind === 'fail-open');
  t.regex(open!.reason!, /0 of 2 backends pass their health check \(panic threshold 50%\)/);
  t.false(events.some((e) => e.kind === 'no-backend'), 'the pool never stopped serving');
  bs[0]!.healthy = true;
  await waitFor('fail-open over', async () => !(await lb.serving('web')).failOpen);
  t.regex(events.find((e) => e.kind === 'fail-open-over')!.reason!, /1 of 2 backends pass/);
  for (let i = 0; i < 4; i++) t.is((await send(front)).body, 'a', 'healthy backends only again');
});

test.serial('with panic threshold 0 a pool whose backends all fail answers 503 and reports it has no backend', async (t) => {
  const { lb, front, live, events } = await setupPool(t);
  await lb.ensurePool('web', '127.0.0.1:0', '/healthz', { panicThresholdPercent: 0 });
  const bs = await live(['a', 'b']);
  for (const b of bs) b.healthy = false;
  await waitFor('no backend', () => events.some((e) => e.kind === 'no-backend'));
  t.is((await send(front)).status, 503);
  t.false((await lb.serving('web')).failOpen);
  t.regex(events.find((e) => e.kind === 'no-backend')!.reason!, /clients get 503 \(2 registered: 0 healthy/);
  bs[1]!.healthy = true;
  await waitFor('serving again', () => events.some((e) => e.kind === 'serving' && /1 backend can take/.test(e.reason ?? '')));
});

test.serial('fail-open never routes to a draining backend or one that has not passed a check yet', async (t) => {
  const { lb, front, backend, live } = await setupPool(t);
  const [a, b] = await live(['a', 'b']);
  await lb.setDrain('web', 'b');
  const fresh = await backend('c', { healthy: false });
  await lb.add('web', 'c', fresh.address);
  a!.healthy = false;
  b!.healthy = false;
  await waitFor('fail-open', async () => (await lb.serving('web')).failOpen);
  for (let i = 0; i < 4; i++) t.is((await send(front)).body, 'a');
  t.is(fresh.hits, 0);
});
