import test from 'ava';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { BuiltinBalancer } from '../../../src/drivers/balancer/builtin/builtin-balancer.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { send, waitFor } from './helpers.ts';
import { setupPool } from './setup.ts';

// Checks far apart: the balancer still believes a killed backend is healthy, so routing to it
// (and the retry) happens for sure rather than by timing.
const SLOW_CHECKS = { healthIntervalMs: 60_000, riseCount: 1 };

test.serial('an idempotent GET whose backend refuses the connection is retried on another backend', async (t) => {
  const { lb, front, status, live } = await setupPool(t, SLOW_CHECKS);
  const [a, b] = await live(['a', 'b']);
  await b!.kill();
  for (let i = 0; i < 6; i++) {
    const r = await send(front);
    t.is(r.status, 200);
    t.is(r.body, 'a');
  }
  const head = await send(front, { method: 'HEAD' });
  t.is(head.status, 200);
  t.true(((await status('b'))!.failed ?? 0) > 0, 'requests were routed to the dead backend and retried');
  await waitFor('all served by a', async () => (await status('a'))!.served === a!.hits);
  t.is(a!.hits, 7);
});

test.serial('a request with a body is not retried: the client gets 502 JSON GH_BAD_GATEWAY', async (t) => {
  const { lb, front, status, live } = await setupPool(t, SLOW_CHECKS);
  const [, b] = await live(['a', 'b']);
  await b!.kill();
  const replies = [];
  for (let i = 0; i < 4; i++) replies.push(await send(front, { method: 'POST', path: '/echo', body: 'payload' }));
  const bad = replies.filter((r) => r.status === 502);
  t.true(bad.length > 0, 'round-robin sent some POSTs to the dead backend');
  t.is(JSON.parse(bad[0]!.body).code, 'GH_BAD_GATEWAY');
  t.true(replies.filter((r) => r.status === 200).every((r) => r.body === 'payload'));
  t.is((await status('b'))!.failed, bad.length);
  await lb.remove('web', 'b');
});

test.serial('a GET fails with 502 when no other backend is left to retry on', async (t) => {
  const { front, live } = await setupPool(t, SLOW_CHECKS);
  const [a] = await live(['a']);
  await a!.kill();
  const r = await send(front);
  t.is(r.status, 502);
  t.is(JSON.parse(r.body).code, 'GH_BAD_GATEWAY');
});

test.serial('a backend that dies is marked unhealthy after fallCount failed checks and clients see no error', async (t) => {
  const { lb, front, status, live, events } = await setupPool(t, { healthIntervalMs: 100, fallCount: 3 });
  const [, b] = await live(['a', 'b']);
  const checksBefore = b!.checks;
  b!.healthy = false; // its health endpoint now fails
  await waitFor('b down', async () => (await status('b'))!.healthy === false);
  t.true(b!.checks - checksBefore >= 3, 'it took at least fallCount checks');
  t.true(events.some((e) => e.kind === 'unhealthy' && e.id === 'b'));
  await b!.kill();
  for (let i = 0; i < 6; i++) t.is((await send(front)).body, 'a');
});

test.serial('a backend killed outright is marked unhealthy and GETs keep succeeding meanwhile', async (t) => {
  const { front, status, live } = await setupPool(t, { healthIntervalMs: 100 });
  const [, b] = await live(['a', 'b']);
  await b!.kill();
  let failures = 0;
  let sent = 0;
  const deadline = Date.now() + 10_000;
  // Send continuously until the balancer notices; every GET must still succeed.
  while ((await status('b'))!.healthy && Date.now() < deadline) {
    const r = await send(front);
    sent++;
    if (r.status !== 200) failures++;
  }
  t.false((await status('b'))!.healthy);
  t.is(failures, 0, `${failures} of ${sent} GETs failed`);
});

test.serial('ensurePool on an address in use fails with GH_BALANCER_FAILED naming the address', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => holder.close(() => r())));
  const listen = `127.0.0.1:${(holder.address() as AddressInfo).port}`;
  const lb = new BuiltinBalancer();
  t.teardown(() => lb.close());
  const err = await t.throwsAsync(lb.ensurePool('web', listen, '/healthz'));
  t.true(err instanceof GridhostError);
  t.is((err as GridhostError).code, 'GH_BALANCER_FAILED');
  t.true(err!.message.includes(listen), err!.message);
  t.regex(err!.message, /EADDRINUSE/);
  t.throws(() => lb.frontendAddress('web'), { message: /ensurePool/ });
});

test.serial('calls on a pool without a front end fail with GH_BALANCER_FAILED saying to call ensurePool', async (t) => {
  const lb = new BuiltinBalancer();
  t.teardown(() => lb.close());
  for (const call of [() => lb.add('nope', 'a', '127.0.0.1:1'), () => lb.setDrain('nope', 'a'), () => lb.list('nope')]) {
    const err = await t.throwsAsync(call());
    t.is((err as GridhostError).code, 'GH_BALANCER_FAILED');
    t.regex(err!.message, /pool nope .*ensurePool/);
  }
});

test.serial('setDrain of an unknown backend fails with GH_BACKEND_UNKNOWN', async (t) => {
  const { lb } = await setupPool(t);
  const err = await t.throwsAsync(lb.setDrain('web', 'ghost'));
  t.is((err as GridhostError).code, 'GH_BACKEND_UNKNOWN');
});

const badInputs: Array<[string, (lb: BuiltinBalancer) => Promise<void>, RegExp]> = [
  ['a listen address without a port', (lb) => lb.ensurePool('x', 'localhost', '/healthz'), /listen "localhost" is not host:port/],
  ['a health path without a leading slash', (lb) => lb.ensurePool('x', '127.0.0.1:0', 'healthz'), /health path "healthz" must start with \//],
  ['a backend address without a port', (lb) => lb.add('web', 'a', '10.0.0.1'), /address "10.0.0.1" is not host:port/],
];

for (const [what, call, message] of badInputs) {
  test.serial(`${what} is rejected with GH_BALANCER_FAILED`, async (t) => {
    const { lb } = await setupPool(t);
    const err = await t.throwsAsync(call(lb));
    t.is((err as GridhostError).code, 'GH_BALANCER_FAILED');
    t.regex(err!.message, message);
  });
}

test.serial('a backend that does not begin its answer within the pool response timeout: 504 GH_GATEWAY_TIMEOUT, not retried elsewhere', async (t) => {
  const { lb, front, status, live } = await setupPool(t, SLOW_CHECKS);
  await lb.ensurePool('web', '127.0.0.1:0', '/healthz', { responseTimeoutMs: 300 });
  const [a, b] = await live(['a', 'b']);
  a!.held = true;
  b!.held = true;
  const started = Date.now();
  const r = await send(front);
  t.is(r.status, 504);
  t.is(JSON.parse(r.body).code, 'GH_GATEWAY_TIMEOUT');
  t.true(Date.now() - started >= 300);
  t.is(a!.hits + b!.hits, 1, 'the backend may have done the work: no second try');
  const statuses = await lb.list('web');
  t.is(statuses.reduce((n, s) => n + (s.failed ?? 0), 0), 1);
  t.is(statuses.reduce((n, s) => n + s.active, 0), 0);
  a!.held = false;
  b!.held = false;
  a!.release();
  b!.release();
  const ok = await send(front);
  t.is(ok.status, 200);
  t.truthy((await status('a')) && (await status('b')));
});
