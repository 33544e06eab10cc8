// Rollouts through the real pool loop against fakes on a manual clock: batches replace outdated
// guests without the pool dropping below its size, failing new guests stop the rollout and the
// old ones stay (rollout: auto does not retry the same digests), and a rollout whose batch was
// cut short (the record says so) is continued by a new PoolRollout, as after a restart.
import test from 'ava';
import type { Guest, MetricValues } from '../domain/types.ts';
import { DEFAULT_ROLLOUT, type Policy, type RolloutSettings } from '../domain/policy.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import type { SourceDigest } from '../decision/rollout-plan.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { GridhostError } from '../errors/errors.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { Actuator } from './actuator.ts';
import { PoolLoop } from './pool-loop.ts';
import { PoolRollout } from './rollout.ts';

const quiet: MetricsSource = {
  name: 'quiet',
  sample: async (guests: readonly Guest[]) => new Map<string, MetricValues>(guests.map((g) => [g.id, { rps: 5 }])),
  close: async () => undefined,
};

async function rig(rollout: Partial<RolloutSettings> = {}, over: Partial<Policy> = {}) {
  const policy = makePolicy({
    min: 3, max: 5,
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    rules: [{ name: 'never', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 1e9, for: 1, step: { kind: 'count', value: 1 } }],
    rollout: { ...DEFAULT_ROLLOUT, ...rollout },
    ...over,
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const fake = new FakeHypervisor();
  const current: SourceDigest = { template: 't1', image: 'i1' };
  // The fake, recording at clone time the digests current then, as the real drivers do.
  const hv: Hypervisor = Object.assign(Object.create(fake) as FakeHypervisor, {
    clone: async (spec: Parameters<Hypervisor['clone']>[0]) => {
      const r = await fake.clone(spec);
      return { ...r, meta: { ...r.meta, templateDigest: current.template, imageDigest: current.image } };
    },
    sourceDigest: async () => ({ ...current }),
  });
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const rollouts = () => new PoolRollout('web', { store, lifecycle, clock, telemetry, hypervisorFor: () => hv });
  const loopWith = (r: PoolRollout) => new PoolLoop(policy, { store, metrics: quiet, actuator: new Actuator(store, lifecycle), clock, telemetry, rollout: r });
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  let loop = loopWith(rollouts());
  const sizes: number[] = [];
  const live = async () => store.listGuests({ pool: 'web', states: ['cloning', 'booting', 'healthy', 'sick', 'draining', 'stopping'] });
  const step = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      await clock.advance(1000);
      await loop.idle();
      sizes.push((await live()).filter((g) => g.state === 'healthy').length);
    }
  };
  loop.start();
  await step(3);
  const first = (await live()).map((g) => g.id).sort();
  return {
    policy, clock, store, fake, current, telemetry, step, live, first, sizes,
    loop: () => loop,
    /** A new PoolRollout and loop, as a restarted gridhost has. */
    restart: async () => {
      await loop.stop();
      loop = loopWith(rollouts());
      loop.start();
    },
  };
}

test('a rollout replaces every outdated guest one per batch, the pool never under its size nor past size + max_surge', async (t) => {
  const r = await rig();
  t.is(r.first.length, 3);
  r.current.template = 't2';
  const started = await r.loop().startRollout('tester', 'edit');
  t.deepEqual([...started.outdated].sort(), r.first);
  r.sizes.length = 0;
  await r.step(20);
  const after = (await r.live()).map((g) => g.id);
  t.is(after.length, 3);
  t.deepEqual(after.filter((id) => r.first.includes(id)), [], 'every guest replaced');
  const rec = (await r.store.getPool('web'))?.rollout;
  t.is(rec?.state, 'done');
  t.is(rec?.batches, 3);
  t.true(r.sizes.every((n) => n >= 3 && n <= 4), `healthy guests per tick: ${r.sizes.join(' ')}`);
  await r.loop().stop();
});

test('new guests that fail stop the rollout, the old guests stay, and rollout: auto does not start again for the same digests', async (t) => {
  const r = await rig({ mode: 'auto' });
  r.fake.failWhen((m) => (m === 'boot' ? new GridhostError('GH_BOOT_FAILED', 'new image does not boot') : undefined));
  r.current.image = 'i2';
  await r.step(5);
  const rec = (await r.store.getPool('web'))?.rollout;
  t.is(rec?.state, 'failed');
  t.is(rec?.by, 'policy');
  t.regex(rec?.failure?.message ?? '', /does not boot/);
  t.deepEqual((await r.live()).map((g) => g.id).sort(), r.first, 'the old guests stay');
  const boots = r.fake.calls.filter((c) => c.method === 'boot').length;
  await r.step(10);
  t.is(r.fake.calls.filter((c) => c.method === 'boot').length, boots, 'no new launch for the digests it failed on');
  t.is((await r.store.getPool('web'))?.rollout?.state, 'failed');
  // A fixed image (new digests) starts it again, and it completes.
  r.fake.clearFailures();
  r.current.image = 'i3';
  await r.step(20);
  t.is((await r.store.getPool('web'))?.rollout?.state, 'done');
  t.deepEqual((await r.live()).filter((g) => r.first.includes(g.id)), []);
  await r.loop().stop();
});

test('a rollout whose batch was cut short is continued by the next gridhost from the pool record', async (t) => {
  const r = await rig();
  r.current.template = 't2';
  await r.loop().startRollout('tester', '');
  await r.loop().stop();
  // As a gridhost killed mid-batch leaves it: the record says a batch was under way.
  const rec = (await r.store.getPool('web'))!;
  await r.store.savePool({ ...rec, rollout: { ...rec.rollout!, batch: { at: r.clock.now(), retiring: [r.first[0]!] } } });
  await r.restart();
  await r.step(20);
  const done = (await r.store.getPool('web'))?.rollout;
  t.is(done?.state, 'done');
  t.is(done?.batch, undefined);
  t.deepEqual((await r.live()).filter((g) => r.first.includes(g.id)), []);
  t.true(r.telemetry.lines.some((l) => l.level === 'warn' && /batch was cut short/.test(l.msg)), 'the cut-short batch is reported');
  await r.loop().stop();
});

test('a pool at its max with max_unavailable 0 waits, and says why', async (t) => {
  const r = await rig({}, { min: 3, max: 3 });
  r.current.template = 't2';
  await r.loop().startRollout('tester', '');
  await r.step(5);
  t.deepEqual((await r.live()).map((g) => g.id).sort(), r.first);
  t.regex(r.loop().status().rollout?.waiting ?? '', /at its max \(3\)/);
  await r.loop().stop();
});
