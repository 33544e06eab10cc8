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
  const orch = new Orchestrator({ store, balancer, metrics: noLoad, actuator: new Actuator(store, lifecycle), lifecycle, clock, telemetry, hypervisors: [hv], leaderless: true });
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

test('a retire asked for while the removed policy\'s loop is still scaling in waits for it: no guest is retired twice', async (t) => {
  const { clock, store, hv, telemetry, orch } = rig();
  const policy = makePolicy({ sampling: { intervalMs: 1000, windowMs: 60_000 }, warmupMs: 0 });
  await orch.apply(policy);
  await clock.advance(10);
  await orch.loop('web')!.idle();
  t.is((await store.listGuests({ pool: 'web', states: ['healthy'] })).length, 2);
  // The pool is over its new max: a scale-in 2 -> 1 starts, its victim's stop held.
  const release = hv.holdNext('stop');
  orch.loop('web')!.updatePolicy({ ...policy, min: 1, max: 1 });
  for (let i = 0; i < 100 && hv.callsOf('stop').length === 0; i++) {
    await clock.advance(1000);
    for (let j = 0; j < 20; j++) await new Promise((r) => setImmediate(r));
  }
  t.is(hv.callsOf('stop').length, 1, 'the scale-in started');
  const [victim] = hv.callsOf('stop');
  const ids = (await store.listGuests({ pool: 'web' })).map((g) => g.id);
  // The file goes; the operator retires at once, before the loop has finished its scale-in.
  const unmanaged = orch.unmanage('web');
  const retired = orch.retireUnmanaged('web');
  release();
  await unmanaged;
  const out = await retired;
  const survivor = ids.find((id) => id !== victim)!;
  t.deepEqual(out, { pool: 'web', retired: [survivor], failed: [] });
  t.deepEqual(hv.callsOf('stop').sort(), [victim, survivor].sort(), 'each guest stopped once');
  t.is(telemetry.guestSteps.filter((s) => s.guest === victim && s.to === 'gone').length, 1);
});

test('a reloaded policy is logged with the keys that changed, old -> new', async (t) => {
  const { clock, telemetry, orch } = rig();
  const policy = makePolicy({ sampling: { intervalMs: 1000, windowMs: 60_000 } });
  await orch.apply(policy);
  await clock.advance(10);
  await orch.loop('web')!.idle();
  await orch.apply({ ...policy, max: 6, scaleOut: { ...policy.scaleOut, cooldownMs: 45_000 } });
  await orch.apply({ ...policy, max: 6, scaleOut: { ...policy.scaleOut, cooldownMs: 45_000 } });
  const lines = telemetry.lines.filter((l) => l.msg.startsWith('policy reloaded'));
  t.deepEqual(lines.map((l) => [l.msg, l.fields?.changes]), [
    ['policy reloaded: max 8 -> 6, scale_out.cooldown 30s -> 45s', ['max 8 -> 6', 'scale_out.cooldown 30s -> 45s']],
    ['policy reloaded: nothing changed', []],
  ]);
  await orch.stop();
});

test('a reloaded policy that changes a balancer setting (checks, panic threshold) re-applies it to the front end', async (t) => {
  const { balancer, orch } = rig();
  const policy = makePolicy({ sampling: { intervalMs: 1000, windowMs: 60_000 } });
  await orch.apply(policy);
  const before = balancer.callsOf('ensurePool').length;
  await orch.apply({ ...policy, rules: [] }); // no balancer change: nothing to re-apply
  t.is(balancer.callsOf('ensurePool').length, before);
  await orch.apply({ ...policy, balancer: { ...policy.balancer, check: { fall: 5 }, panicThresholdPercent: 0 } });
  const last = balancer.callsOf('ensurePool').at(-1)!;
  t.is(balancer.callsOf('ensurePool').length, before + 1);
  t.like(JSON.parse(last[3]!), { check: { fall: 5 }, panicThresholdPercent: 0 });
  await orch.stop();
});

test('starting to manage a pool keeps the operator\'s pause from its stored record', async (t) => {
  const { store, orch } = rig();
  const control = { mode: 'paused' as const, by: 'alice', reason: 'incident', at: 5 };
  await store.savePool({ pool: 'web', file: '/policies/web.yaml', desired: 3, managed: true, updatedAt: 1, control });
  await orch.apply(makePolicy({ sampling: { intervalMs: 1000, windowMs: 60_000 } }));
  t.deepEqual((await store.getPool('web'))!.control, control);
  await orch.stop();
});
