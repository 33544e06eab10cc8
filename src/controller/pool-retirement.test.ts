// An operator's retire of a whole pool (POST /api/pools/:pool/retire) against records another
// writer changes meanwhile: the compare-and-set refuses the stale step, and the guest is retired
// from a fresh read instead of being reported failed.
import test from 'ava';
import type { Guest } from '../domain/types.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { RETIRE_TRIES, retirePool } from './pool-retirement.ts';

async function rig(otherWrites: number) {
  const policy = makePolicy();
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  for (const id of ['web-a', 'web-b']) await lifecycle.launch(policy, id);
  // Another writer touches each guest's record right before each of the first `otherWrites`
  // steps the retire takes on it, so the record the step carries is stale.
  const touched = new Map<string, number>();
  const touch = async (g: Guest) => {
    const n = touched.get(g.id) ?? 0;
    if (n >= otherWrites) return;
    touched.set(g.id, n + 1);
    const now = (await store.getGuest(g.id))!;
    await store.saveGuest({ ...now, meta: { ...now.meta, touched: String(n + 1) } });
  };
  const racing = Object.create(lifecycle) as GuestLifecycle;
  racing.retire = async (g, p, why) => (await touch(g), lifecycle.retire(g, p, why));
  racing.finish = async (g, p, why, to) => (await touch(g), lifecycle.finish(g, p, why, to));
  return { policy, store, hv, out: await retirePool({ store, lifecycle: racing, clock, telemetry }, 'web', policy, 'retired by the operator') };
}

test('a guest whose record another writer changed meanwhile is retired from a fresh read, not reported failed', async (t) => {
  const r = await rig(1);
  t.deepEqual(r.out.failed, []);
  t.deepEqual([...r.out.retired].sort(), ['web-a', 'web-b']);
  for (const id of ['web-a', 'web-b']) t.is((await r.store.getGuest(id))?.state, 'gone');
});

test(`a record changed before every one of ${RETIRE_TRIES} tries is reported failed with GH_STALE_WRITE, and the guest is not left serving unnoticed`, async (t) => {
  const r = await rig(RETIRE_TRIES);
  t.deepEqual(r.out.failed.map((f) => [f.guest, f.code]).sort(), [['web-a', 'GH_STALE_WRITE'], ['web-b', 'GH_STALE_WRITE']]);
  t.deepEqual(r.out.retired, []);
  // The pool is not marked retired while guests remain.
  t.is((await r.store.getPool('web'))?.retiredAt, undefined);
});
