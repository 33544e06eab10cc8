import test from 'ava';
import { GridhostError } from '../../errors/errors.ts';
import { BalancerSet } from './balancer-set.ts';
import { FakeBalancer } from './fake-balancer.ts';

function rig() {
  const builtin = new FakeBalancer();
  const haproxy = new FakeBalancer();
  const set = new BalancerSet(new Map([['builtin', builtin], ['haproxy', haproxy]]), (d) => `no ${d} here: configure it`);
  return { builtin, haproxy, set };
}

test('each pool goes to the driver its policy names; no driver named is builtin', async (t) => {
  const { builtin, haproxy, set } = rig();
  await set.ensurePool('a', '127.0.0.1:1', '/healthz', { driver: 'haproxy' });
  await set.ensurePool('b', '127.0.0.1:2', '/healthz');
  await set.add('a', 'a-1', '127.0.0.1:10');
  await set.add('b', 'b-1', '127.0.0.1:20');
  await set.setDrain('a', 'a-1');
  t.deepEqual(haproxy.callsOf('add'), [['a', 'a-1', '127.0.0.1:10']]);
  t.deepEqual(builtin.callsOf('add'), [['b', 'b-1', '127.0.0.1:20']]);
  t.deepEqual(haproxy.callsOf('setDrain'), [['a', 'a-1']]);
  t.deepEqual((await set.list('a')).map((b) => [b.id, b.admin]), [['a-1', 'drain']]);
  t.deepEqual((await set.serving('b')).backends.map((b) => b.id), ['b-1']);
});

test('a driver that is not configured is a GH_BALANCER_FAILED naming the pool and what to configure', async (t) => {
  const builtin = new FakeBalancer();
  const set = new BalancerSet(new Map([['builtin', builtin]]), (d) => `balancer.driver is ${d}, but gridhost.yaml has no ${d} section`);
  await t.throwsAsync(set.ensurePool('a', '', '/healthz', { driver: 'haproxy' }), { code: 'GH_BALANCER_FAILED', message: 'pool a: balancer.driver is haproxy, but gridhost.yaml has no haproxy section' });
  await t.throwsAsync(set.add('a', 'a-1', '127.0.0.1:10'), { code: 'GH_BALANCER_FAILED', message: /pool a has no front end/ });
  t.deepEqual(builtin.calls, []);
});

test('a pool moving to another driver takes its backends along, drained ones drained, before the old front end closes', async (t) => {
  const { builtin, haproxy, set } = rig();
  await set.ensurePool('a', '127.0.0.1:1', '/healthz');
  await set.add('a', 'a-1', '127.0.0.1:10');
  await set.add('a', 'a-2', '127.0.0.1:11');
  await set.setDrain('a', 'a-2');
  await set.ensurePool('a', '', '/healthz', { driver: 'haproxy' });
  t.deepEqual((await haproxy.list('a')).map((b) => [b.id, b.address, b.admin]), [['a-1', '127.0.0.1:10', 'ready'], ['a-2', '127.0.0.1:11', 'drain']]);
  t.false(builtin.hasPool('a'));
  t.deepEqual(builtin.callsOf('remove'), [['a', 'a-1'], ['a', 'a-2']], 'taken out of the old driver (an external one keeps servers across removePool)');
  t.is(builtin.calls.at(-1)?.method, 'removePool', 'the old front end closes last');
  await set.add('a', 'a-3', '127.0.0.1:12');
  t.deepEqual(builtin.callsOf('add').map((a) => a[1]), ['a-1', 'a-2'], 'later guests go to the new driver only');
});

test('blocked() is the serving driver\'s; remove() of a pool no driver serves asks every driver', async (t) => {
  const { builtin, haproxy, set } = rig();
  await set.ensurePool('a', '', '/healthz', { driver: 'haproxy' });
  t.is(set.blocked('a'), undefined);
  haproxy.setBlocked('a', new GridhostError('GH_HAPROXY_UNKNOWN_BACKEND', 'pool a: no backend'));
  t.is(set.blocked('a')?.code, 'GH_HAPROXY_UNKNOWN_BACKEND');
  t.is(set.blocked('gone'), undefined);
  await set.remove('gone', 'gone-1');
  t.deepEqual(builtin.callsOf('remove'), [['gone', 'gone-1']]);
  t.deepEqual(haproxy.callsOf('remove'), [['gone', 'gone-1']]);
  await set.removePool('a');
  t.deepEqual(haproxy.callsOf('removePool'), [['a']]);
  await t.throwsAsync(set.list('a'), { code: 'GH_BALANCER_FAILED' });
});
