import test from 'ava';
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';
import { GridhostError } from '../errors/errors.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { instrumentBalancer, instrumentHypervisor } from './instrument.ts';
import { createMetrics, type GridhostMetrics } from './metrics.ts';

/** Observation count of one driver operation series (0 when absent). */
async function count(m: GridhostMetrics, labels: { driver: string; operation: string; outcome: string }): Promise<number> {
  const { values } = await m.driverOperationDuration.get();
  const v = values.find(
    (x) =>
      x.metricName === 'gridhost_driver_operation_duration_seconds_count' &&
      x.labels.driver === labels.driver &&
      x.labels.operation === labels.operation &&
      x.labels.outcome === labels.outcome,
  );
  return v?.value ?? 0;
}

const spec = { id: 'web-a1', pool: 'web', policy: {} as unknown as Policy };
const guestOf = (id: string): Guest => ({ id, pool: 'web', state: 'stopping', driver: 'fake', host: 'fakehost', createdAt: 0, updatedAt: 0, meta: {} });

test('instrumentHypervisor passes calls and results through and times each as outcome ok', async (t) => {
  const fake = new FakeHypervisor({ name: 'fake', addressFor: () => '127.0.0.1:4242' });
  fake.seed({ id: 'web-old', pool: 'web', running: true, address: '127.0.0.1:4000', meta: { pid: '7' } });
  const m = createMetrics();
  const h = instrumentHypervisor(fake, m);
  t.is(h.name, 'fake');
  const cloned = await h.clone(spec);
  t.deepEqual(cloned, { meta: { clonePath: '/fake/web/web-a1', cloneMethod: 'copy' }, host: 'fakehost' });
  const booted = await h.boot(spec, cloned.meta);
  t.deepEqual(booted, { meta: { pid: '1001', port: '4242' }, host: 'fakehost', address: '127.0.0.1:4242' });
  await h.stop(guestOf('web-a1'), 1000);
  await h.deleteClone(guestOf('web-a1'));
  t.deepEqual(await h.discover(), [{ id: 'web-old', pool: 'web', host: 'fakehost', meta: { pid: '7' }, running: true, address: '127.0.0.1:4000' }]);
  await h.close();
  t.deepEqual(
    fake.calls.map((c) => c.method),
    ['clone', 'boot', 'stop', 'deleteClone', 'discover', 'close'],
  );
  for (const operation of ['clone', 'boot', 'stop', 'deleteClone', 'discover', 'close']) {
    t.is(await count(m, { driver: 'fake', operation, outcome: 'ok' }), 1, operation);
  }
});

test('instrumentHypervisor rethrows the same error and labels the outcome with its code', async (t) => {
  const fake = new FakeHypervisor({ name: 'local' });
  const m = createMetrics();
  const h = instrumentHypervisor(fake, m);
  const err = new GridhostError('GH_OUT_OF_CAPACITY', 'no room');
  fake.failNext('clone', err);
  t.is(await t.throwsAsync(h.clone(spec)), err);
  t.is(await count(m, { driver: 'local', operation: 'clone', outcome: 'GH_OUT_OF_CAPACITY' }), 1);
  t.is(await count(m, { driver: 'local', operation: 'clone', outcome: 'ok' }), 0);
});

test('an error outside the catalogue is labelled outcome "error"', async (t) => {
  const fake = new FakeBalancer();
  const m = createMetrics();
  const b = instrumentBalancer(fake, m);
  fake.inject('add', new Error('socket hang up'));
  await t.throwsAsync(b.add('web', 'web-a1', '127.0.0.1:1'), { message: 'socket hang up' });
  t.is(await count(m, { driver: 'fake', operation: 'add', outcome: 'error' }), 1);
});

test('instrumentBalancer times every balancer method with the driver name and outcome', async (t) => {
  const fake = new FakeBalancer();
  const m = createMetrics();
  const b = instrumentBalancer(fake, m);
  t.is(b.name, 'fake');
  await b.ensurePool('web', '127.0.0.1:0', '/health');
  await b.add('web', 'web-a1', '127.0.0.1:4000');
  await b.setDrain('web', 'web-a1');
  const listed = await b.list('web');
  t.deepEqual(
    listed.map((x) => [x.id, x.admin]),
    [['web-a1', 'drain']],
  );
  await b.remove('web', 'web-a1');
  await b.removePool('web');
  fake.inject('setDrain', new GridhostError('GH_BACKEND_UNKNOWN'));
  await t.throwsAsync(b.setDrain('web', 'nope'));
  await b.close();
  for (const operation of ['ensurePool', 'add', 'setDrain', 'list', 'remove', 'removePool', 'close']) {
    t.is(await count(m, { driver: 'fake', operation, outcome: 'ok' }), 1, operation);
  }
  t.is(await count(m, { driver: 'fake', operation: 'setDrain', outcome: 'GH_BACKEND_UNKNOWN' }), 1);
});

test('instrumentHypervisor keeps a driver\'s hostUp answer and adds none where the driver has none', (t) => {
  const m = createMetrics();
  const hv = new FakeHypervisor();
  t.is(instrumentHypervisor(hv, m).hostUp, undefined);
  const withHosts = Object.assign(new FakeHypervisor(), { hostUp: (host: string) => host !== 'dom0-b' });
  const wrapped = instrumentHypervisor(withHosts, m);
  t.true(wrapped.hostUp?.('dom0-a'));
  t.false(wrapped.hostUp?.('dom0-b'));
});

test('instrumentHypervisor passes a driver\'s sourceDigest through (rollouts need it) and adds none where the driver has none', async (t) => {
  const m = createMetrics();
  t.is(instrumentHypervisor(new FakeHypervisor(), m).sourceDigest, undefined);
  const digest = { template: 'sha256:t', image: 'sha256:i' };
  const withDigest = Object.assign(new FakeHypervisor(), { sourceDigest: async () => digest });
  t.deepEqual(await instrumentHypervisor(withDigest, m).sourceDigest?.({} as never, 'localhost'), digest);
});

test('instrumentHypervisor passes hostFacts (policy contention) and reapply (guest.credit after a restart) through, timed, and adds neither where the driver has none', async (t) => {
  const m = createMetrics();
  const fake = new FakeHypervisor({ name: 'fake' });
  fake.hosts = [{ host: 'dom0-a', cpuRatio: 0.95, freeMemoryMb: 1000 }];
  const h = instrumentHypervisor(fake, m);
  t.deepEqual(await h.hostFacts?.(), [{ host: 'dom0-a', cpuRatio: 0.95, freeMemoryMb: 1000 }]);
  const base = makePolicy({});
  const policy = { ...base, guest: { ...base.guest, credit: { weight: 512 } } };
  t.deepEqual(await h.reapply?.(guestOf('web-a1'), policy), { creditWeight: '512' });
  t.is(await count(m, { driver: 'fake', operation: 'hostFacts', outcome: 'ok' }), 1);
  t.is(await count(m, { driver: 'fake', operation: 'reapply', outcome: 'ok' }), 1);
  const bare = { name: 'bare', hostNames: fake.hostNames.bind(fake), clone: fake.clone.bind(fake), boot: fake.boot.bind(fake), stop: fake.stop.bind(fake), deleteClone: fake.deleteClone.bind(fake), discover: fake.discover.bind(fake), close: fake.close.bind(fake) };
  const wrapped = instrumentHypervisor(bare, m);
  t.is(wrapped.hostFacts, undefined);
  t.is(wrapped.reapply, undefined);
  t.is(wrapped.migrate, undefined);
});

test('instrumentHypervisor passes resize (guest.vertical) through, timed, and adds none where the driver has none', async (t) => {
  const m = createMetrics();
  const fake = new FakeHypervisor({ name: 'fake' });
  fake.seed({ id: 'web-a1', pool: 'web', running: true, meta: {} });
  const h = instrumentHypervisor(fake, m);
  t.deepEqual(await h.resize?.(guestOf('web-a1'), { vcpus: 2, memoryMb: 768 }), { meta: { vcpus: '2', memory_mb: '768' } });
  t.is(await count(m, { driver: 'fake', operation: 'resize', outcome: 'ok' }), 1);
  const bare = { name: 'bare', hostNames: fake.hostNames.bind(fake), clone: fake.clone.bind(fake), boot: fake.boot.bind(fake), stop: fake.stop.bind(fake), deleteClone: fake.deleteClone.bind(fake), discover: fake.discover.bind(fake), close: fake.close.bind(fake) };
  t.is(instrumentHypervisor(bare, m).resize, undefined);
});

test('instrumentHypervisor passes migrate (drain-host) through, timed, and hostNames as they are', async (t) => {
  const m = createMetrics();
  const fake = new FakeHypervisor({ name: 'fake', hosts: ['dom0-a', 'dom0-b'] });
  const moved = { host: 'dom0-b', meta: { host: 'dom0-b' } };
  const hv = Object.assign(Object.create(fake) as FakeHypervisor, { migrate: async () => moved });
  const h = instrumentHypervisor(hv, m);
  t.deepEqual(h.hostNames(), ['dom0-a', 'dom0-b']);
  t.deepEqual(await h.migrate?.(guestOf('web-a1'), { policy: makePolicy({}), avoidHosts: ['dom0-a'] }), moved);
  t.is(await count(m, { driver: 'fake', operation: 'migrate', outcome: 'ok' }), 1);
});
