// What boot() set from the policy (Hypervisor.reapply: Xen's credit weight and cap) is set again
// on guests a new leader or a restarted gridhost takes up, on both adopt paths.
import test from 'ava';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import { GridhostError } from '../errors/errors.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { reconcilePool, repairsByKind } from './reconciler.ts';

function rig() {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const base = makePolicy({});
  const policy = makePolicy({ guest: { ...base.guest, credit: { weight: 512, cap: 50 } } });
  const deps = { store, hypervisors: [hv], balancer, lifecycle, clock, telemetry };
  return { store, hv, balancer, telemetry, lifecycle, policy, deps };
}

test('a running guest taken up on take-over gets the policy\'s credit again, recorded in its meta', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-a');
  r.hv.calls.length = 0;
  const rep = await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: true });
  t.deepEqual(repairsByKind(rep).adopted, ['web-a']);
  t.deepEqual(r.hv.calls.filter((c) => c.method === 'reapply').map((c) => c.id), ['web-a']);
  t.regex(rep.repairs[0]!.detail, /creditWeight 512, creditCap 50 set again/);
  t.like((await r.store.getGuest(guest.id))?.meta, { creditWeight: '512', creditCap: '50' });
});

test('a failed reapply on take-over is said and leaves the guest serving', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  await r.lifecycle.launch(r.policy, 'web-a');
  r.hv.failNext('reapply', new GridhostError('GH_SCHED_FAILED', 'Invalid argument'));
  const rep = await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: true });
  t.deepEqual(repairsByKind(rep).adopted, ['web-a']);
  t.deepEqual(rep.failed, []);
  t.regex(rep.repairs[0]!.detail, /could not be set again \(GH_SCHED_FAILED\)/);
  t.true(r.telemetry.lines.some((l) => l.level === 'warn' && /scheduler parameters/.test(l.msg)));
  t.is((await r.store.getGuest('web-a'))?.state, 'healthy');
  t.deepEqual(r.balancer.snapshot('web').map((b) => b.id), ['web-a']);
});

test('outside a take-over nothing is set again (every reconciliation would repeat it)', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  await r.lifecycle.launch(r.policy, 'web-a');
  r.hv.calls.length = 0;
  await reconcilePool(r.deps, 'web', r.policy, undefined, { takeover: false });
  t.deepEqual(r.hv.calls.filter((c) => c.method === 'reapply'), []);
});

test('with unknown_guests: adopt, an adopted unknown guest gets the policy\'s credit before it serves', async (t) => {
  const r = rig();
  const policy = { ...r.policy, unknownGuests: 'adopt' as const, guest: { ...r.policy.guest, driver: 'fake' } };
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.seed({ id: 'web-x', pool: 'web', cloned: true, running: true, address: '127.0.0.1:9', meta: {} });
  const rep = await reconcilePool(r.deps, 'web', policy, undefined, { takeover: true });
  t.deepEqual(repairsByKind(rep)['unknown-guest'], ['web-x']);
  t.deepEqual(r.hv.calls.filter((c) => c.method === 'reapply').map((c) => c.id), ['web-x']);
  t.like((await r.store.getGuest('web-x'))?.meta, { creditWeight: '512', creditCap: '50' });
});
