// The orchestrator against fakes on a manual clock: which pools it manages as policies come and go.
import test from 'ava';
import type { Guest, MetricValues } from '../domain/types.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { GridhostError } from '../errors/errors.ts';
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

function rig() {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const orch = new Orchestrator({ store, balancer, metrics: noLoad, actuator: new Actuator(store, lifecycle), lifecycle, clock, telemetry });
  return { clock, store, hv, balancer, telemetry, orch };
}

test('a pool removed and at once taken over by another file (a rename) stays managed', async (t) => {
  const { clock, store, hv, telemetry, orch } = rig();
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

test('retiring an unmanaged pool reports a front end that could not be closed', async (t) => {
  const { clock, store, hv, balancer, telemetry, orch } = rig();
  await orch.apply(makePolicy({ sampling: { intervalMs: 1000, windowMs: 60_000 } }));
  await clock.advance(10);
  await orch.loop('web')!.idle();
  await orch.unmanage('web');
  balancer.inject('removePool', new GridhostError('GH_BALANCER_FAILED', 'port stuck'));
  const { retired } = await orch.retireUnmanaged('web');
  t.is(retired.length, 2);
  t.deepEqual(await store.listGuests({ pool: 'web', states: ['healthy'] }), []);
  t.true([...hv.guests.values()].every((g) => !g.running));
  const warned = telemetry.lines.find((l) => l.level === 'warn' && l.msg.startsWith('could not close the pool'));
  t.like(warned, { fields: { pool: 'web', error: 'port stuck' } });
});
