// One repair per kind of mismatch (reconciler.ts), each reported, counted and kept in history.
import test from 'ava';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { adoptedMeta, reconcilePool, repairsByKind } from './reconciler.ts';
import { guestSizeOf, verticalStep } from '../decision/vertical-step.ts';
import type { DiscoveredSize } from '../drivers/hypervisor/hypervisor.ts';

function rig() {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const policy = makePolicy({});
  const deps = { store, hypervisors: [hv], balancer, lifecycle, clock, telemetry };
  return { clock, store, hv, balancer, telemetry, lifecycle, policy, deps };
}

test('a clone with no guest and no live record is deleted (orphan-clone)', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.seed({ id: 'web-old', pool: 'web', cloned: true, running: false, meta: {} });
  const rep = await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: false });
  t.deepEqual(repairsByKind(rep)['orphan-clone'], ['web-old']);
  t.false(r.hv.guests.has('web-old'));
  t.like(r.telemetry.repairs[0], { pool: 'web', kind: 'orphan-clone', guest: 'web-old' });
  t.like((await r.store.listHistory({ pool: 'web' }))[0], { kind: 'repair', repair: 'orphan-clone', guest: 'web-old' });
});

test('a balancer entry with no live guest is removed (balancer-orphan); a healthy guest missing from the balancer is added (balancer-missing)', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-a');
  await r.balancer.remove('web', 'web-a');
  await r.balancer.add('web', 'web-ghost', '127.0.0.1:9');
  const rep = repairsByKind(await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: false }));
  t.deepEqual(rep['balancer-orphan'], ['web-ghost']);
  t.deepEqual(rep['balancer-missing'], ['web-a']);
  t.deepEqual(r.balancer.snapshot('web').map((b) => b.id), ['web-a']);
  t.is((await r.store.getGuest(guest.id))?.state, 'healthy');
  // A second pass finds nothing left to repair.
  t.deepEqual((await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: false })).repairs, []);
});

test('outside a take-over, guests of a change this process has in flight are not stuck and are left alone', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  await r.store.saveGuest({ id: 'web-b', pool: 'web', state: 'booting', driver: 'fake', host: 'fakehost', createdAt: 1, updatedAt: 1, meta: {} });
  r.hv.seed({ id: 'web-b', pool: 'web', cloned: true, running: true, meta: {} });
  const busy = await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: false, acting: () => true });
  t.deepEqual(busy.repairs, []);
  t.is((await r.store.getGuest('web-b'))?.state, 'booting');
  const idle = repairsByKind(await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: false, acting: () => false }));
  t.deepEqual(idle.undone, ['web-b']);
  t.is((await r.store.getGuest('web-b'))?.state, 'failed');
});

test('a reconciler whose lease is gone stops at once and writes nothing', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  await r.store.saveGuest({ id: 'web-c', pool: 'web', state: 'cloning', driver: 'fake', host: '', createdAt: 1, updatedAt: 1, meta: {} });
  const lost = { pool: 'web', token: 7, holder: 'proc-x', acquiredAt: 1, check: () => { throw Object.assign(new Error('lost'), { code: 'GH_LEASE_LOST' }); } };
  const rep = await reconcilePool(r.deps, 'web', r.policy, lost, { takeover: true });
  t.deepEqual(rep.repairs, []);
  t.deepEqual(rep.failed, ['web-c']);
  t.is((await r.store.getGuest('web-c'))?.state, 'cloning');
});

test('an unknown running guest is retired by default (unknown_guests: retire): stopped, clone deleted, never recorded', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.seed({ id: 'web-u1', pool: 'web', running: true, address: '127.0.0.1:10001', meta: {} });
  const rep = await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: true });
  t.deepEqual(repairsByKind(rep)['unknown-guest'], ['web-u1']);
  t.regex(rep.repairs[0]!.detail, /stopped and its clone deleted/);
  t.false(r.hv.guests.has('web-u1'));
  t.is(await r.store.getGuest('web-u1'), undefined);
  t.deepEqual(r.balancer.snapshot('web'), []);
});

const adoptRig = (healthy: boolean) => {
  const r = rig();
  const lifecycle = new GuestLifecycle({
    store: r.store, balancer: r.balancer, clock: r.clock, telemetry: r.telemetry, hypervisorFor: () => r.hv, pollMs: 10,
    waitHealthy: async (g) => {
      if (!healthy) throw Object.assign(new Error(`${g.id} did not answer /healthz`), { code: 'GH_HEALTH_TIMEOUT' });
    },
  });
  return { ...r, lifecycle, deps: { ...r.deps, lifecycle }, policy: makePolicy({ unknownGuests: 'adopt', guest: { ...r.policy.guest, driver: r.hv.name } }) };
};

test('with unknown_guests: adopt, an unknown running guest that passes the health checks is recorded healthy and added to the balancer', async (t) => {
  const r = adoptRig(true);
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.seed({ id: 'web-u2', pool: 'web', running: true, address: '127.0.0.1:10002', meta: { pid: '42' } });
  const rep = await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: true });
  t.deepEqual(repairsByKind(rep)['unknown-guest'], ['web-u2']);
  t.regex(rep.repairs[0]!.detail, /adopted/);
  t.like(await r.store.getGuest('web-u2'), { state: 'healthy', address: '127.0.0.1:10002', driver: 'fake', meta: { pid: '42' } });
  t.true(r.hv.guests.get('web-u2')?.running);
  t.deepEqual(r.balancer.snapshot('web').map((b) => b.id), ['web-u2']);
  // It is the pool's now: the next pass has nothing to repair.
  t.deepEqual((await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: false })).repairs, []);
});

test('with unknown_guests: adopt, an unknown guest that fails the health check is cleaned up like a failed launch', async (t) => {
  const r = adoptRig(false);
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.seed({ id: 'web-u3', pool: 'web', running: true, address: '127.0.0.1:10003', meta: {} });
  const rep = await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: true });
  t.deepEqual(repairsByKind(rep)['unknown-guest'], ['web-u3']);
  t.regex(rep.repairs[0]!.detail, /adoption failed .*did not answer/);
  t.like(await r.store.getGuest('web-u3'), { state: 'failed' });
  t.false(r.hv.guests.has('web-u3'));
  t.deepEqual(r.balancer.snapshot('web'), []);
});

test('with unknown_guests: adopt, an unknown guest at no known address (killed between spawn and record) is retired', async (t) => {
  const r = adoptRig(true);
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.seed({ id: 'web-u4', pool: 'web', running: true, meta: { pid: '43' } });
  const rep = await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: true });
  t.deepEqual(repairsByKind(rep)['unknown-guest'], ['web-u4']);
  t.regex(rep.repairs[0]!.detail, /not adopted; stopped/);
  t.false(r.hv.guests.has('web-u4'));
  t.is(await r.store.getGuest('web-u4'), undefined);
});

test('an adopted guest keeps the vCPUs and memory its driver reports (its template\'s as the floor), so vertical steps can resize it', async (t) => {
  const r = adoptRig(true);
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.seed({ id: 'web-u5', pool: 'web', running: true, address: '127.0.0.1:10005', meta: { pid: '44' } });
  // Found stepped up once before the store lost it: 2 of 4 vCPUs, 192 of 512 MiB, made at 1 / 128.
  const size: DiscoveredSize = { vcpus: 2, maxVcpus: 4, memoryMb: 192, maxMemoryMb: 512, baseVcpus: 1, baseMemoryMb: 128 };
  const listed = r.hv.discover.bind(r.hv);
  r.hv.discover = async () => (await listed()).map((x) => (x.id === 'web-u5' ? { ...x, size } : x));
  const rep = await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: true });
  t.regex(rep.repairs[0]!.detail, /adopted/);
  const rec = (await r.store.getGuest('web-u5'))!;
  t.like(rec, { state: 'healthy', meta: { pid: '44' } });
  t.deepEqual(guestSizeOf(rec), size);
  const vertical = { vcpuStep: 1, memoryStepMb: 64 };
  t.deepEqual(verticalStep(vertical, [rec], 'up')?.guests, [{ id: 'web-u5', vcpus: { from: 2, to: 3 }, memoryMb: { from: 192, to: 256 } }]);
  t.deepEqual(verticalStep(vertical, [rec], 'down')?.guests, [{ id: 'web-u5', vcpus: { from: 2, to: 1 }, memoryMb: { from: 192, to: 128 } }]);
});

test('adoptedMeta: the driver\'s size under the keys a launch writes; without one, no size facts (vertical leaves the guest alone)', (t) => {
  t.deepEqual(adoptedMeta({ meta: { host: 'h' }, size: { vcpus: 1, maxVcpus: 2, memoryMb: 128, maxMemoryMb: 256, baseVcpus: 1, baseMemoryMb: 128 } }), {
    host: 'h', vcpus: '1', maxvcpus: '2', base_vcpus: '1', memory_mb: '128', maxmem_mb: '256', base_memory_mb: '128',
  });
  const bare = adoptedMeta({ meta: { host: 'h' } });
  t.deepEqual(bare, { host: 'h' });
  t.is(guestSizeOf({ meta: bare }), undefined);
});
