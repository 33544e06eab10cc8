// The balancer is told how to reach each guest with the call (address, and the host the route
// goes through), at launch and at adoption after a restart: no driver looks anything up.
import test from 'ava';
import type { Guest } from '../domain/types.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { reconcilePool, repairsByKind } from './reconciler.ts';

function rig(routeVia?: (g: Guest) => string | undefined) {
  const policy = makePolicy();
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10, ...(routeVia ? { routeVia } : {}) });
  return { policy, clock, store, hv, balancer, telemetry, lifecycle };
}

test('a launched guest is registered with its address and the host its route goes through', async (t) => {
  const r = rig((g) => (g.host === 'fakehost' ? 'fakehost' : undefined));
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-a');
  t.deepEqual(r.balancer.callsOf('add'), [['web', 'web-a', guest.address!, 'fakehost']]);
});

test('a guest reached directly is registered without a host to go through', async (t) => {
  const r = rig(() => undefined);
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-a');
  t.deepEqual(r.balancer.callsOf('add'), [['web', 'web-a', guest.address!]]);
});

test('an adopted guest is registered with the host its route goes through', async (t) => {
  const r = rig((g) => (g.host === 'dom0-a' ? 'dom0-a' : undefined));
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  await r.store.saveGuest({ id: 'web-a', pool: 'web', state: 'healthy', driver: 'fake', host: 'dom0-a', address: '10.0.0.5:80', createdAt: 1, updatedAt: 1, meta: {} });
  await r.store.saveGuest({ id: 'web-b', pool: 'web', state: 'healthy', driver: 'fake', host: 'local', address: '127.0.0.1:81', createdAt: 1, updatedAt: 1, meta: {} });
  r.hv.seed({ id: 'web-a', pool: 'web', cloned: true, running: true, address: '10.0.0.5:80', meta: {} });
  r.hv.seed({ id: 'web-b', pool: 'web', cloned: true, running: true, address: '127.0.0.1:81', meta: {} });
  const report = repairsByKind(await reconcilePool({ store: r.store, hypervisors: [r.hv], balancer: r.balancer, lifecycle: r.lifecycle, clock: r.clock, telemetry: r.telemetry }, 'web', r.policy, undefined, { takeover: true }));
  t.deepEqual(report.adopted.sort(), ['web-a', 'web-b']);
  t.deepEqual(r.balancer.callsOf('add').sort(), [['web', 'web-a', '10.0.0.5:80', 'dom0-a'], ['web', 'web-b', '127.0.0.1:81']]);
});
