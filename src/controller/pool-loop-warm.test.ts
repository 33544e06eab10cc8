// The pool loop with a warm pool (policy warm_pool), against fakes on a manual clock: refills run
// beside scale actions and never hold one; no reconciliation starts while a warm guest is being
// made (it is `warming`, which a reconciliation would undo as half-made); the loop's stop waits
// for a refill.
import test from 'ava';
import type { Guest, MetricValues } from '../domain/types.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { Actuator } from './actuator.ts';
import { PoolLoop } from './pool-loop.ts';

class Load implements MetricsSource {
  readonly name = 'scripted';
  total = 0;
  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    return new Map(guests.map((g) => [g.id, { rps: guests.length ? this.total / guests.length : 0 }]));
  }
  async close() {}
}

async function rig() {
  const policy = makePolicy({
    min: 2,
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    rules: [{ name: 'busy', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 10, for: 2, step: { kind: 'count', value: 1 } }],
    warmPool: { size: 1 },
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const telemetry = new RecordingTelemetry();
  const load = new Load();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  let reconciled = 0;
  const loop = new PoolLoop(policy, {
    store, metrics: load, actuator: new Actuator(store, lifecycle), clock, telemetry, lifecycle,
    reconcile: async () => { reconciled++; }, reconcileEveryMs: 2000,
  });
  return { clock, store, hv, load, loop, reconciled: () => reconciled };
}

const inState = async (store: MemoryStore, state: Guest['state']) => (await store.listGuests({ pool: 'web', states: [state] })).map((g) => g.id);
/** Lets background work that waits on no timer run. */
const settle = async () => { for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r)); };

test('a warm guest being made holds no scale-out, and no reconciliation starts until it is warm', async (t) => {
  const r = await rig();
  const release = r.hv.holdNext('pause');
  r.loop.start();
  await r.clock.advance(10);
  await settle();
  t.is((await inState(r.store, 'healthy')).length, 2, 'the pool at min');
  t.is((await inState(r.store, 'warming')).length, 1, 'a warm guest on its way, held at its pause');
  // Load: the loop scales out although the warm pool's guest is still being made.
  r.load.total = 1000;
  for (let i = 0; i < 6; i++) {
    await r.clock.advance(1000);
    await settle();
  }
  t.true((await inState(r.store, 'healthy')).length >= 3, 'scaled out beside the refill');
  t.is((await inState(r.store, 'warming')).length, 1);
  t.is(r.reconciled(), 0, 'due every 2 s, but not while a guest is warming');
  release();
  await settle();
  t.is((await inState(r.store, 'warm')).length, 1);
  await r.clock.advance(3000);
  await settle();
  t.true(r.reconciled() > 0, 'reconciled once the warm guest was made');
  await r.loop.stop();
});

test('stopping the loop waits for a refill to end', async (t) => {
  const r = await rig();
  const release = r.hv.holdNext('pause');
  r.loop.start();
  await r.clock.advance(10);
  await settle();
  let stopped = false;
  const stopping = r.loop.stop().then(() => { stopped = true; });
  await settle();
  t.false(stopped, 'still making the warm guest');
  release();
  await stopping;
  t.deepEqual((await inState(r.store, 'warm')).length, 1);
});
