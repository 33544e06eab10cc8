import test from 'ava';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { waitDrained } from '../../../src/drivers/balancer/wait-drained.ts';
import { load, send, waitFor } from './helpers.ts';
import { setupPool } from './setup.ts';

test.serial('drain: in-flight requests finish with 200, new ones avoid the backend, active reaches 0, then remove', async (t) => {
  const { lb, front, status, live, events } = await setupPool(t);
  const [a, b] = await live(['a', 'b']);
  a!.held = true;
  b!.held = true;
  const first = Array.from({ length: 4 }, () => send(front));
  await waitFor('two in flight on each', () => a!.hits === 2 && b!.hits === 2);
  await lb.setDrain('web', 'a');
  t.like(await status('a'), { admin: 'drain', active: 2 });
  const second = Array.from({ length: 4 }, () => send(front));
  await waitFor('second batch reached b', () => b!.hits === 6);
  t.is(a!.hits, 2, 'no new request went to the draining backend');
  t.deepEqual(await waitDrained(lb, 'web', 'a', 30, 10), { drained: false, active: 2 });
  a!.release();
  b!.release();
  const replies = await Promise.all([...first, ...second]);
  t.deepEqual(replies.map((r) => r.status), Array(8).fill(200));
  t.is(replies.filter((r) => r.body === 'a').length, 2);
  t.deepEqual(await waitDrained(lb, 'web', 'a', 5000, 20), { drained: true, active: 0 });
  t.like(await status('a'), { admin: 'drain', active: 0, served: 2 });
  await lb.remove('web', 'a');
  t.is(await status('a'), undefined);
  t.deepEqual((await lb.list('web')).map((s) => s.id), ['b']);
  t.true(events.some((e) => e.kind === 'drain' && e.id === 'a'));
  t.true(events.some((e) => e.kind === 'removed' && e.id === 'a'));
});

test.serial('no request fails while one of three backends is drained and removed under concurrent load', async (t) => {
  const { lb, front, status, live } = await setupPool(t);
  const [, , c] = await live(['a', 'b', 'c'], { delayMs: 5 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(() => agent.destroy());
  let drainDone: Promise<void> | undefined;
  let cHitsAtDrain = -1;
  const counts = await load(300, 8, async (i) => {
    if (i === 60) {
      drainDone = (async () => {
        await lb.setDrain('web', 'c');
        cHitsAtDrain = c!.hits;
        const r = await waitDrained(lb, 'web', 'c', 5000, 10);
        if (!r.drained) throw new Error('c did not drain');
        await lb.remove('web', 'c');
        await c!.close(); // the guest stops once drained
      })();
    }
    const r = await send(front, { agent });
    return r.status;
  });
  await drainDone;
  t.deepEqual([...counts], [[200, 300]]);
  t.true(cHitsAtDrain > 0, 'c served traffic before the drain');
  t.true(c!.hits - cHitsAtDrain <= 8, 'at most the requests already in flight reached c after the drain');
  t.is(await status('c'), undefined);
});

test.serial('remove is idempotent: twice, an unknown id and an unknown pool all succeed', async (t) => {
  const { lb, live } = await setupPool(t);
  await live(['a']);
  await lb.remove('web', 'a');
  await t.notThrowsAsync(lb.remove('web', 'a'));
  await t.notThrowsAsync(lb.remove('web', 'never-added'));
  await t.notThrowsAsync(lb.remove('no-such-pool', 'a'));
  t.deepEqual(await lb.list('web'), []);
});

test.serial('a removed backend gets no more health checks', async (t) => {
  const { lb, live } = await setupPool(t);
  const [a] = await live(['a']);
  await lb.remove('web', 'a');
  const atRemove = a!.checks;
  await new Promise((r) => setTimeout(r, 600)); // ~6 check intervals
  // One check already on its way when remove() ran may still arrive; none may follow it.
  t.true(a!.checks - atRemove <= 1, `${a!.checks - atRemove} checks after remove`);
});

test.serial('removePool stops accepting at once and lets requests in flight complete', async (t) => {
  const { lb, front, live, events } = await setupPool(t);
  const [a] = await live(['a']);
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  t.is((await send(front, { agent })).status, 200); // leaves an idle keep-alive connection
  a!.held = true;
  const inflight = send(front);
  await waitFor('in flight', () => a!.hits === 2);
  const removing = lb.removePool('web');
  await t.throwsAsync(send(front), { code: 'ECONNREFUSED' });
  await t.throwsAsync(lb.list('web'), { code: 'GH_BALANCER_FAILED' } as never);
  a!.release();
  t.is((await inflight).status, 200);
  await removing;
  t.true(events.some((e) => e.kind === 'pool-down' && e.pool === 'web'));
  await t.notThrowsAsync(lb.removePool('web'));
});

test.serial('ensurePool on the same listen is idempotent and keeps backends', async (t) => {
  const { lb, front, live } = await setupPool(t);
  await live(['a']);
  await lb.ensurePool('web', '127.0.0.1:0', '/healthz');
  t.is(lb.frontendAddress('web'), front);
  t.is((await lb.list('web')).length, 1);
  t.is((await send(front)).body, 'a');
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test.serial('ensurePool with a new listen address moves the front end and keeps backends', async (t) => {
  const { lb, front, live, events } = await setupPool(t);
  await live(['a']);
  const listen = `127.0.0.1:${await freePort()}`;
  await lb.ensurePool('web', listen, '/healthz');
  t.is(lb.frontendAddress('web'), listen);
  t.is((await send(listen)).body, 'a');
  await t.throwsAsync(send(front), { code: 'ECONNREFUSED' });
  t.is((await lb.list('web')).length, 1);
  t.is(events.filter((e) => e.kind === 'pool-up').length, 2);
});
