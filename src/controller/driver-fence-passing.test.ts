// The leader's lease reaches the driver on the warm pool's pause and unpause and on reapply
// (credit set again on a guest taken up), as it does on clone, boot, stop and resize: the Xen
// driver refuses a deposed leader's commands on dom0 only when the call carries the lease
// (test/drivers/xen/running-domain-fence.test.ts is that refusal).
import test from 'ava';
import type { Guest } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import type { DriverFence, StepResult } from '../drivers/hypervisor/hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { reconcilePool } from './reconciler.ts';
import type { ActingFence } from './acting-fence.ts';

/** The fake, remembering the lease each pause, unpause and reapply was given. */
class FenceRecordingHypervisor extends FakeHypervisor {
  readonly fences: { method: string; fence: DriverFence | undefined }[] = [];
  override pause(guest: Guest, fence?: DriverFence): Promise<StepResult> {
    this.fences.push({ method: 'pause', fence });
    return super.pause(guest);
  }
  override unpause(guest: Guest, fence?: DriverFence): Promise<StepResult> {
    this.fences.push({ method: 'unpause', fence });
    return super.unpause(guest);
  }
  override reapply(guest: Guest, policy: Policy, fence?: DriverFence): Promise<Record<string, string>> {
    this.fences.push({ method: 'reapply', fence });
    return super.reapply(guest, policy);
  }
}

async function rig() {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  const hv = new FenceRecordingHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const base = makePolicy({ warmPool: { size: 1 } });
  const policy = makePolicy({ warmPool: { size: 1 }, guest: { ...base.guest, credit: { weight: 512, cap: 50 } } });
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const lease = (await store.acquireLease('web', 'proc-a', 60_000))!;
  const fence: ActingFence = { pool: 'web', token: lease.token, holder: 'proc-a', acquiredAt: lease.acquiredAt, check: () => undefined };
  const want: DriverFence = { pool: 'web', token: lease.token, holder: 'proc-a', acquiredAt: lease.acquiredAt };
  return { store, hv, balancer, telemetry, lifecycle, policy, fence, want, deps: { store, hypervisors: [hv], balancer, lifecycle, clock, telemetry } };
}

test('making a warm guest pauses it under the leader\'s lease, and taking it unpauses it under the lease', async (t) => {
  const r = await rig();
  const warm = await r.lifecycle.makeWarm(r.policy, 'web-w1', r.fence);
  await r.lifecycle.takeWarm(warm, r.policy, r.fence);
  t.deepEqual(r.hv.fences, [{ method: 'pause', fence: r.want }, { method: 'unpause', fence: r.want }]);
});

test('credit set again on a guest taken up on take-over carries the leader\'s lease', async (t) => {
  const r = await rig();
  await r.lifecycle.launch(r.policy, 'web-a', r.fence);
  await reconcilePool(r.deps, 'web', r.policy, r.fence, { takeover: true });
  t.deepEqual(r.hv.fences, [{ method: 'reapply', fence: r.want }]);
});

test('adopting an unknown running guest sets its credit under the leader\'s lease', async (t) => {
  const r = await rig();
  await r.lifecycle.adopt({ id: 'web-u', pool: 'web', driver: r.hv.name, host: 'fakehost', address: '127.0.0.1:1', meta: {} }, r.policy, r.fence);
  t.deepEqual(r.hv.fences, [{ method: 'reapply', fence: r.want }]);
});
