// The pool loop with guest.vertical on fakes (manual clock): load the rules call too much for 2
// guests is met by a resize (the FakeHypervisor's, written to each guest's record), the resize's
// cooldown holds the next step, and once the guests are at their maxvcpus a guest is cloned.
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

/** Each guest reports rps = total / guests / its vCPUs x 1 (per-vCPU load, as capacity grows with vCPUs). */
class PerVcpuLoad implements MetricsSource {
  readonly name = 'per-vcpu';
  total = 0;
  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    return new Map(guests.map((g) => [g.id, { rps: this.total / guests.length / Number(g.meta['vcpus'] ?? 1) }]));
  }
  async close() {}
}

test('a busy pool with guest.vertical resizes its guests first, waits its cooldown, then clones once they are at maxvcpus', async (t) => {
  const base = makePolicy({
    min: 2, max: 8,
    sampling: { intervalMs: 1000, windowMs: 60_000 }, warmupMs: 0,
    scaleOut: { cooldownMs: 3000, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 3000, stabilizationMs: 0 },
    rules: [{ name: 'busy', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 10, for: 1, step: { kind: 'count', value: 1 } }],
  });
  const policy = { ...base, guest: { ...base.guest, vertical: { vcpuStep: 1, memoryStepMb: 0 } } };
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  const hv = new FakeHypervisor({ cloneMeta: { vcpus: '1', maxvcpus: '2', base_vcpus: '1', memory_mb: '512', maxmem_mb: '512', base_memory_mb: '512' } });
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const load = new PerVcpuLoad();
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  for (const id of ['web-a', 'web-b']) await lifecycle.launch(policy, id);
  const loop = new PoolLoop(policy, { store, metrics: load, actuator: new Actuator(store, lifecycle), clock, telemetry });
  const tick = async () => {
    await clock.advance(1000);
    await loop.idle();
  };
  // 60 rps over 2 one-vCPU guests: 30 each, busy.
  load.total = 60;
  loop.start();
  await tick();
  t.deepEqual(hv.callsOf('resize').sort(), ['web-a', 'web-b'], 'a step up, no clone');
  t.is(hv.callsOf('clone').length, 2);
  for (const id of ['web-a', 'web-b']) t.is((await store.getGuest(id))?.meta['vcpus'], '2');
  t.is(telemetry.scaleEvents.filter((e) => e.direction === 'resize' && e.outcome === 'done').length, 1);
  // Still 15 rps per vCPU: busy, but the resize's cooldown (a scale-out's) holds the next step.
  await tick();
  t.is(loop.status().lastDecision?.action, 'hold');
  t.regex(loop.status().lastDecision?.reason ?? '', /cooldown/);
  // After the cooldown the guests are at maxvcpus 2: a guest is cloned.
  for (let i = 0; i < 3; i++) await tick();
  t.is(hv.callsOf('resize').length, 2, 'no second resize at the ceiling');
  t.is(hv.callsOf('clone').length, 3);
  await loop.stop();
});
