// The orchestrator against fakes on a manual clock: which pools it manages as policies come and go.
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
import { Orchestrator } from './orchestrator.ts';

const noLoad: MetricsSource = {
  name: 'none',
  sample: async (guests: readonly Guest[]) => new Map<string, MetricValues>(guests.map((g) => [g.id, {}])),
  close: async () => undefined,
};

test('a pool removed and at once taken over by another file (a rename) stays managed', async (t) => {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const orch = new Orchestrator({ store, balancer, metrics: noLoad, actuator: new Actuator(store, lifecycle), lifecycle, clock, telemetry });
  const policy = makePolicy({ sampling: { intervalMs: 1000, windowMs: 60_000 } });
  // The first loop is busy launching (held) when its file goes away.
  const release = hv.holdNext('clone');
  await orch.apply(policy);
  await clock.advance(10);
  const unmanaged = orch.unmanage('web');
  await orch.apply({ ...policy, file: '/policies/renamed.yaml' });
  release();
  await unmanaged;
  t.deepEqual(orch.managedPools(), ['web']);
  t.like(await store.getPool('web'), { managed: true });
  t.false(telemetry.lines.some((l) => l.msg.startsWith('policy removed')));
  await orch.stop();
});
