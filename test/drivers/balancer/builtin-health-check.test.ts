// The health check settings a pool's policy gives (balancer.check) override the balancer's own.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { setupPool } from './setup.ts';

test('a pool with rise 1 puts a backend in rotation after one passing check, and its interval paces the next', async (t) => {
  // The balancer's defaults here: a check every 100 ms, rise 2. Same listen: only the checks change.
  const { lb, backend, status, healthy } = await setupPool(t);
  await lb.ensurePool('web', '127.0.0.1:0', '/healthz', { check: { intervalMs: 60_000, timeoutMs: 1000, rise: 1, fall: 1 } });
  const b = await backend('a');
  await lb.add('web', 'a', b.address);
  await healthy('a');
  t.is(b.checks, 1, 'healthy after a single check');
  await sleep(500); // five of the balancer's default intervals
  t.is(b.checks, 1, 'no second check before the pool interval');
  t.true((await status('a'))!.healthy);
});

test('without pool settings the balancer defaults apply: rise 2 needs two checks', async (t) => {
  const { lb, backend, healthy } = await setupPool(t);
  const b = await backend('a');
  await lb.add('web', 'a', b.address);
  await healthy('a');
  t.true(b.checks >= 2);
});

test('a pool that sets only some check keys keeps the balancer defaults for the rest', async (t) => {
  // Defaults here: every 100 ms, rise 2. The pool sets only fall.
  const { lb, backend, healthy } = await setupPool(t);
  await lb.ensurePool('web', '127.0.0.1:0', '/healthz', { check: { fall: 5 } });
  const b = await backend('a');
  await lb.add('web', 'a', b.address);
  await healthy('a');
  t.true(b.checks >= 2, 'rise stayed 2');
  const before = b.checks;
  await sleep(500);
  t.true(b.checks > before, 'the interval stayed the balancer default (100 ms), not undefined');
});
