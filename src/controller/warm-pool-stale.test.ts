// Stale warm guests (policy warm_pool) against fakes on a manual clock: a warm guest on a drained
// host (drain-host) is never taken and is retired so the host empties, the warm pool refilling
// on an open host; a warm guest made from an old template or image is never taken and is
// replaced by a current one, also while a refill runs.
import test from 'ava';
import type { Guest, MetricValues, ScaleOutDecision } from '../domain/types.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import type { SourceDigest } from '../decision/rollout-plan.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { Actuator } from './actuator.ts';
import { PoolLoop } from './pool-loop.ts';
import { PoolEvacuation } from './evacuation.ts';
import { PoolRollout } from './rollout.ts';
import { HostControl } from './host-control.ts';

class Load implements MetricsSource {
  readonly name = 'scripted';
  total = 0;
  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    return new Map(guests.map((g) => [g.id, { rps: guests.length ? this.total / guests.length : 0 }]));
  }
  async close() {}
}

const who = { by: 'alice@ops', reason: 'kernel update' };

/** A pool loop with a warm pool, evacuation and rollouts; the fake records at clone time the
 *  digests current then, as the real drivers do. */
async function rig(o: { min: number; warm: number; hosts: string[] }) {
  const policy = makePolicy({
    min: o.min, max: 6,
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    rules: [{ name: 'busy', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 10, for: 2, step: { kind: 'count', value: 1 } }],
    warmPool: { size: o.warm },
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const fake = new FakeHypervisor({ hosts: o.hosts });
  const current: SourceDigest = { template: 't1', image: 'i1' };
  const hv: Hypervisor = Object.assign(Object.create(fake) as FakeHypervisor, {
    clone: async (spec: Parameters<Hypervisor['clone']>[0]) => {
      const r = await fake.clone(spec);
      return { ...r, meta: { ...r.meta, templateDigest: current.template, imageDigest: current.image } };
    },
    sourceDigest: async () => ({ ...current }),
  });
  const balancer = new FakeBalancer();
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const telemetry = new RecordingTelemetry();
  const load = new Load();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const deps = { store, lifecycle, clock, telemetry, hypervisorFor: () => hv };
  const loop = new PoolLoop(policy, {
    store, metrics: load, actuator: new Actuator(store, lifecycle), clock, telemetry, lifecycle,
    evacuation: new PoolEvacuation('web', deps), rollout: new PoolRollout('web', deps),
  });
  const hosts = new HostControl({ store, clock, telemetry, hypervisors: [hv] });
  const inState = async (state: Guest['state']) => store.listGuests({ pool: 'web', states: [state] });
  const settle = async () => { for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r)); };
  const step = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      await clock.advance(1000);
      await settle();
    }
  };
  loop.start();
  await step(3);
  return { store, fake, current, load, loop, hosts, inState, step, settle };
}

test('a scale-out never takes a warm guest on a drained host: it launches cold on an open host', async (t) => {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  const hv = new FakeHypervisor({ hosts: ['dom0-a', 'dom0-b'] });
  const balancer = new FakeBalancer();
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry: new RecordingTelemetry(), hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const policy = makePolicy({ warmPool: { size: 1 } });
  const warm = await lifecycle.makeWarm(policy, 'web-w1');
  await store.saveHost({ host: warm.host, drain: { ...who, at: clock.now() }, updatedAt: clock.now() });
  const decision: ScaleOutDecision = { pool: 'web', at: clock.now(), action: 'scale-out', from: 0, to: 1, reason: 'test', inputs: { series: {}, min: 0, max: 8, schedules: [] } };
  const out = await new Actuator(store, lifecycle).apply(decision, policy);
  t.is(out.outcome, 'done', out.detail);
  t.is(out.launched, 1);
  t.is(out.warm, 0, 'launched cold');
  t.deepEqual(hv.callsOf('unpause'), [], 'the warm guest on the drained host was never unpaused');
  t.is((await store.getGuest('web-w1'))?.state, 'warm');
  const [served] = await store.listGuests({ pool: 'web', states: ['healthy'] });
  t.not(served?.host, warm.host, 'placed off the drained host');
});

test('drain-host retires the warm guests on the drained host and the warm pool refills elsewhere', async (t) => {
  const r = await rig({ min: 2, warm: 1, hosts: ['dom0-a', 'dom0-b', 'dom0-c'] });
  t.teardown(() => r.loop.stop());
  const [old] = await r.inState('warm');
  t.truthy(old, 'a warm guest was made');
  await r.hosts.drain(old!.host, who);
  await r.step(12);
  t.is((await r.store.getGuest(old!.id))?.state, 'gone');
  t.false(r.fake.guests.has(old!.id), 'stopped and its clone deleted');
  const warm = await r.inState('warm');
  t.is(warm.length, 1, 'the warm pool is at its size again');
  t.not(warm[0]!.host, old!.host, 'made on an open host');
  t.is((await r.inState('healthy')).length, 2, 'the serving guests are untouched in number');
  t.is((await r.hosts.get(old!.host)).state, 'drained');
  t.deepEqual(r.fake.callsOf('unpause'), []);
});

test('the host counts as empty only once its warm guests are gone', async (t) => {
  const r = await rig({ min: 1, warm: 1, hosts: ['dom0-a', 'dom0-b'] });
  t.teardown(() => r.loop.stop());
  const [warm] = await r.inState('warm');
  const [serving] = await r.inState('healthy');
  t.not(warm!.host, serving!.host, 'the warm guest is alone on its host');
  const release = r.fake.holdNext('stop');
  t.teardown(release); // never left held, whatever fails
  const drained = await r.hosts.drain(warm!.host, who);
  t.is(drained.host.state, 'draining', 'its warm guest is still on it');
  t.deepEqual(drained.host.guests.map((g) => g.id), [warm!.id]);
  await r.step(2);
  t.is((await r.store.getGuest(warm!.id))?.state, 'stopping', 'being retired, held at its stop');
  t.is((await r.hosts.get(warm!.host)).state, 'draining', 'not empty while its warm guest stops');
  t.is(r.fake.callsOf('stop').length, 1, 'stopped once: the warm pool\'s retirement is not retried as a failed cleanup');
  release();
  await r.step(3);
  t.is((await r.hosts.get(warm!.host)).state, 'drained');
  t.is((await r.store.getGuest(serving!.id))?.state, 'healthy', 'the serving guest on the open host stays');
  const refilled = await r.inState('warm');
  t.is(refilled.length, 1);
  t.is(refilled[0]!.host, serving!.host, 'refilled on the open host');
});

test('a warm guest made from an old template is never taken and is replaced by a current one', async (t) => {
  // Two warm guests, one of them held at its pause: a refill runs when the template changes.
  const r = await rig({ min: 1, warm: 0, hosts: ['dom0-a', 'dom0-b'] });
  t.teardown(() => r.loop.stop());
  const policy = makePolicy({ ...r.loop.status().policy, warmPool: { size: 2 } });
  const held = r.fake.holdNext('pause');
  t.teardown(held); // never left held, whatever fails
  r.loop.updatePolicy(policy);
  await r.step(2);
  const stale = (await r.inState('warm')).map((g) => g.id);
  const making = (await r.inState('warming')).map((g) => g.id);
  t.is(stale.length, 1);
  t.is(making.length, 1, 'the other one held at its pause: the refill still runs');
  r.current.template = 't2';
  await r.step(6); // past the digest check's interval
  t.is((await r.store.getGuest(stale[0]!))?.state, 'gone', 'retired beside the running refill');
  // A scale-out now finds no stale guest to take.
  r.load.total = 1000;
  await r.step(4);
  r.load.total = 0;
  held();
  await r.step(8);
  const old = [...stale, ...making];
  t.deepEqual(r.fake.callsOf('unpause').filter((id) => old.includes(id)), [], 'no guest made from the old template was taken');
  t.true((await r.inState('healthy')).length >= 2, 'the scale-out got its guest');
  for (const id of old) t.is((await r.store.getGuest(id))?.state, 'gone', `${id} retired`);
  const warm = await r.inState('warm');
  t.is(warm.length, 2, 'refilled');
  t.true(warm.every((g) => g.meta.templateDigest === 't2'), 'with current guests');
});
