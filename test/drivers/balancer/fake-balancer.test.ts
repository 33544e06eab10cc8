import test from 'ava';
import { FakeBalancer } from '../../../src/drivers/balancer/fake-balancer.ts';
import { GridhostError } from '../../../src/errors/errors.ts';

test('the fake records every call with its arguments in order', async (t) => {
  const lb = new FakeBalancer();
  await lb.ensurePool('web', '127.0.0.1:8080', '/healthz');
  await lb.add('web', 'web-1', '127.0.0.1:9001');
  await lb.setDrain('web', 'web-1');
  await lb.remove('web', 'web-1');
  t.deepEqual(lb.calls, [
    { method: 'ensurePool', args: ['web', '127.0.0.1:8080', '/healthz'] },
    { method: 'add', args: ['web', 'web-1', '127.0.0.1:9001'] },
    { method: 'setDrain', args: ['web', 'web-1'] },
    { method: 'remove', args: ['web', 'web-1'] },
  ]);
  t.deepEqual(lb.callsOf('add'), [['web', 'web-1', '127.0.0.1:9001']]);
  t.is(lb.frontendAddress('web'), '127.0.0.1:8080');
});

test('the fake keeps the contract: idempotent add and remove, unknown backend and pool errors', async (t) => {
  const lb = new FakeBalancer();
  await t.throwsAsync(lb.add('web', 'a', '127.0.0.1:1'), { instanceOf: GridhostError, message: /ensurePool/ });
  await lb.ensurePool('web', '127.0.0.1:8080', '/healthz');
  await lb.add('web', 'a', '127.0.0.1:1');
  lb.setServed('web', 'a', 5);
  await lb.add('web', 'a', '127.0.0.1:1');
  t.is((await lb.list('web'))[0]!.served, 5, 'same address: no-op');
  const err = await t.throwsAsync(lb.setDrain('web', 'ghost'));
  t.is((err as GridhostError).code, 'GH_BACKEND_UNKNOWN');
  await lb.remove('web', 'a');
  await t.notThrowsAsync(lb.remove('web', 'a'));
  await t.notThrowsAsync(lb.remove('other', 'a'));
  t.deepEqual(await lb.list('web'), []);
});

test('backends start healthy by default, or unhealthy when asked, and tests can set health and load', async (t) => {
  const lb = new FakeBalancer({ healthyOnAdd: false });
  await lb.ensurePool('web', '127.0.0.1:8080', '/healthz');
  await lb.add('web', 'a', '127.0.0.1:1');
  t.like((await lb.list('web'))[0], { healthy: false, admin: 'ready', active: 0 });
  lb.setHealth('web', 'a', true);
  lb.setActive('web', 'a', 3);
  t.like((await lb.list('web'))[0], { healthy: true, active: 3 });
  const def = new FakeBalancer();
  await def.ensurePool('web', '127.0.0.1:8080', '/healthz');
  await def.add('web', 'a', '127.0.0.1:1');
  t.true((await def.list('web'))[0]!.healthy);
});

test('scripted active counts are reported one per list() call, the last one sticking', async (t) => {
  const lb = new FakeBalancer();
  await lb.ensurePool('web', '127.0.0.1:8080', '/healthz');
  await lb.add('web', 'a', '127.0.0.1:1');
  lb.scriptActive('web', 'a', [2, 1, 0]);
  const seen = [];
  for (let i = 0; i < 4; i++) seen.push((await lb.list('web'))[0]!.active);
  t.deepEqual(seen, [2, 1, 0, 0]);
});

test('injected errors reject the next calls of that method only, as many times as asked', async (t) => {
  const lb = new FakeBalancer();
  await lb.ensurePool('web', '127.0.0.1:8080', '/healthz');
  lb.inject('add', undefined, 2);
  for (let i = 0; i < 2; i++) {
    const err = await t.throwsAsync(lb.add('web', 'a', '127.0.0.1:1'));
    t.is((err as GridhostError).code, 'GH_BALANCER_FAILED');
  }
  await t.notThrowsAsync(lb.add('web', 'a', '127.0.0.1:1'));
  lb.inject('remove', new GridhostError('GH_BALANCER_FAILED', 'runtime API down'));
  await t.throwsAsync(lb.remove('web', 'a'), { message: 'runtime API down' });
  t.is(lb.callsOf('add').length, 3, 'failed calls are recorded too');
  t.is(lb.snapshot('web').length, 1, 'a failed remove changes nothing');
});

test('the fake reports serving figures: a fall counts a down with its check, and set figures show', async (t) => {
  const lb = new FakeBalancer();
  await lb.ensurePool('web', '127.0.0.1:8080', '/healthz');
  await lb.add('web', 'a', '127.0.0.1:1');
  lb.fall('web', 'a', 'timeout after 2000 ms', 5);
  lb.fall('web', 'a', 'timeout after 2000 ms', 6); // already down: not a second fall
  lb.setStats('web', 'a', { requests: 7 });
  lb.setPoolServing('web', { failOpen: true, noBackend: 2 });
  const s = await lb.serving('web');
  t.like(s, { pool: 'web', failOpen: true, noBackend: 2 });
  t.like(s.backends[0], { healthy: false, downs: 1, lastCheck: { at: 6, ok: false, detail: 'timeout after 2000 ms' } });
  t.is(s.backends[0]!.stats.requests, 7);
  t.deepEqual(lb.callsOf('serving'), [['web']]);
});
