// The control loop against fakes (memory store, fake hypervisor, fake balancer, scripted
// metrics) on a manual clock: the wiring of sample -> decide -> act, and the no-leak rules.
import test from 'ava';
import type { Guest, MetricValues } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { GridhostError } from '../errors/errors.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle, type HealthWaiter } from './guest-lifecycle.ts';
import { Actuator } from './actuator.ts';
import { PoolLoop } from './pool-loop.ts';
import { STOPPING_RETRY_MS } from './pool-actions.ts';
import { reconcilePool, repairsByKind } from './reconciler.ts';

/** Total load spread evenly over the guests it is asked about. */
class ScriptedLoad implements MetricsSource {
  readonly name = 'scripted';
  total = 0;
  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    return new Map(guests.map((g) => [g.id, { rps: guests.length ? this.total / guests.length : 0 }]));
  }
  async close() {}
}

function rig(policyOverrides: Partial<Policy> = {}, waitHealthy: HealthWaiter = async () => undefined, lost: ReadonlySet<string> = new Set()) {
  const policy = makePolicy({
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 2000, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 2000, stabilizationMs: 0, victims: 'newest' },
    breaker: { failures: 3, openMs: 60_000 },
    rules: [
      { name: 'busy', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 10, for: 2, step: { kind: 'count', value: 1 } },
      { name: 'quiet', strategy: 'threshold', metric: 'rps', aggregate: 'mean', below: 2, for: 2, step: { kind: 'count', value: -1 } },
    ],
    ...policyOverrides,
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const load = new ScriptedLoad();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy, pollMs: 10 });
  const isLost = (g: Guest) => lost.has(g.id);
  const actuator = new Actuator(store, lifecycle, isLost);
  const loop = new PoolLoop(policy, { store, metrics: load, actuator, clock, telemetry, isLost });
  return { policy, clock, store, hv, balancer, telemetry, load, lifecycle, loop };
}

async function size(store: MemoryStore, pool = 'web'): Promise<number> {
  return (await store.listGuests({ pool, states: ['cloning', 'booting', 'healthy'] })).length;
}

test('an empty pool is brought to min at start', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  await r.clock.advance(10);
  await r.loop.idle();
  t.is(await size(r.store), 2);
  t.is(r.balancer.snapshot('web').length, 2);
  const events = await r.store.listEvents({ pool: 'web' });
  t.is(events[0]?.outcome, 'done');
  t.regex(events[0]!.reason, /below min 2/);
  await r.loop.stop();
});

test('under sustained load the pool grows one step at a time and never above max', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  r.load.total = 1000;
  const sizes: number[] = [];
  for (let i = 0; i < 60; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
    sizes.push(await size(r.store));
  }
  t.is(Math.max(...sizes), 8);
  const events = (await r.store.listEvents({ pool: 'web' })).reverse().filter((e) => e.from >= 2);
  t.deepEqual(events.map((e) => `${e.from}->${e.to}`), ['2->3', '3->4', '4->5', '5->6', '6->7', '7->8']);
  t.true(events.every((e) => e.outcome === 'done'));
  await r.loop.stop();
});

test('when load goes away the pool shrinks to min, draining each guest before stopping it', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  r.load.total = 1000;
  for (let i = 0; i < 40; i++) await r.clock.advance(1000);
  await r.loop.idle();
  t.is(await size(r.store), 8);
  r.load.total = 0;
  const sizes: number[] = [];
  for (let i = 0; i < 60; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
    sizes.push(await size(r.store));
  }
  t.is(sizes.at(-1), 2);
  t.is(Math.min(...sizes), 2);
  // For every retired guest, setDrain came before the hypervisor stop.
  const drained = r.balancer.callsOf('setDrain').map((a) => a[1]!);
  t.is(drained.length, 6);
  for (const id of drained) {
    const drainIdx = r.balancer.calls.findIndex((c) => c.method === 'setDrain' && c.args[1] === id);
    const removeIdx = r.balancer.calls.findIndex((c) => c.method === 'remove' && c.args[1] === id);
    t.true(drainIdx >= 0 && removeIdx > drainIdx, `${id} drained before removal`);
    t.false(r.hv.guests.get(id)?.running ?? false, `${id} stopped`);
    t.false(r.hv.guests.get(id)?.cloned ?? false, `${id} clone deleted`);
  }
  await r.loop.stop();
});

test('a failed boot leaks no guest, clone or balancer entry', async (t) => {
  const r = rig({ min: 1, max: 8 });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.failNext('boot', new GridhostError('GH_BOOT_FAILED', 'kernel missing'));
  await r.lifecycle.launch(r.policy, 'web-bad').then(() => t.fail('launch should fail'), (e) => t.is(e.code, 'GH_BOOT_FAILED'));
  const g = await r.store.getGuest('web-bad');
  t.is(g?.state, 'failed');
  t.false(r.hv.guests.get('web-bad')?.cloned ?? false);
  t.false(r.hv.guests.get('web-bad')?.running ?? false);
  t.is(r.balancer.snapshot('web').length, 0);
});

test('when the store write after a step fails, cleanup still gets what the step made (clone path, pid)', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const cleaned: Guest[] = [];
  const deleteClone = r.hv.deleteClone.bind(r.hv);
  r.hv.deleteClone = async (g) => {
    cleaned.push(g);
    return deleteClone(g);
  };
  const release = r.hv.holdNext('boot');
  const launching = r.lifecycle.launch(r.policy, 'web-w');
  while (r.hv.callsOf('boot').length === 0) await new Promise((res) => setImmediate(res));
  r.store.failNext('saveGuest'); // the write of what boot() returned
  release();
  await t.throwsAsync(launching, { code: 'GH_STORE_FAILED' } as never);
  t.like(cleaned[0]?.meta, { clonePath: '/fake/web/web-w', pid: '1001' });
  t.deepEqual(r.hv.callsOf('stop'), ['web-w']);
  t.is((await r.store.getGuest('web-w'))?.state, 'failed');
});

test('a guest that never becomes healthy is stopped and its clone deleted', async (t) => {
  const r = rig({}, async (g) => {
    throw new GridhostError('GH_HEALTH_TIMEOUT', `${g.id} never healthy`);
  });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  await t.throwsAsync(r.lifecycle.launch(r.policy, 'web-sick'), { code: 'GH_HEALTH_TIMEOUT' } as never);
  t.is((await r.store.getGuest('web-sick'))?.state, 'failed');
  t.deepEqual(r.hv.callsOf('stop'), ['web-sick']);
  t.deepEqual(r.hv.callsOf('deleteClone'), ['web-sick']);
  t.false(r.hv.guests.get('web-sick')?.running ?? false);
  t.is(r.balancer.snapshot('web').length, 0);
});

test('repeated launch failures open the circuit breaker and launches stop', async (t) => {
  const r = rig({ breaker: { failures: 3, openMs: 60_000 } });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.failWhen((m) => (m === 'boot' ? new GridhostError('GH_BOOT_FAILED', 'broken template') : undefined));
  r.loop.start();
  for (let i = 0; i < 10; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  const boots = r.hv.callsOf('boot').length;
  t.true(boots >= 3, `boots: ${boots}`);
  t.deepEqual(r.telemetry.breakers.filter((b) => b.open).map((b) => b.pool), ['web']);
  // 30 more seconds inside the open period: no launch at all.
  for (let i = 0; i < 30; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  t.is(r.hv.callsOf('boot').length, boots);
  t.true(r.telemetry.launchFailures.length >= 3);
  // Nothing leaked: every guest that was tried is failed and cleaned.
  const tried = await r.store.listGuests({ pool: 'web' });
  t.true(tried.every((g) => g.state === 'failed'));
  t.true([...r.hv.guests.values()].every((g) => !g.running && !g.cloned));
  await r.loop.stop();
});

test('a scale-out cooldown starts when its guests are healthy and in the balancer, not when it was decided', async (t) => {
  let clock: ManualClock | undefined;
  // Health takes 5 s of (manual) time, so the action finishes well after its decision.
  const r = rig({ scaleOut: { cooldownMs: 2000, whileBooting: 'hold' } }, async () => clock!.sleep(5000));
  clock = r.clock;
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  r.load.total = 1000;
  for (let i = 0; i < 40; i++) await r.clock.advance(1000);
  await r.loop.stop();
  const outs = (await r.store.listEvents({ pool: 'web' })).reverse().filter((e) => e.direction === 'scale-out');
  t.true(outs.length >= 3, `scale-outs: ${outs.length}`);
  const guests = await r.store.listGuests({ pool: 'web' });
  for (let i = 1; i < outs.length; i++) {
    // The guests of the previous action became healthy at the end of that action.
    const prev = guests.filter((g) => g.createdAt >= outs[i - 1]!.at && g.createdAt < outs[i]!.at);
    const finished = Math.max(...prev.map((g) => g.healthyAt!));
    t.true(finished >= outs[i - 1]!.at + 5000);
    t.true(outs[i]!.at >= finished + 2000, `scale-out at ${outs[i]!.at} waits for the cooldown from ${finished}`);
    t.true(outs[i]!.at < finished + 2000 + 2000, 'and no longer than the two samples its rule needs');
  }
  const last = outs.at(-1)!;
  const lastGuests = guests.filter((g) => g.createdAt >= last.at && g.healthyAt !== undefined);
  const rec = await r.store.getPool('web');
  t.is(r.loop.memoryView().lastScaleOutAt, Math.max(...lastGuests.map((g) => g.healthyAt!)));
  t.is(rec?.lastScaleOutAt, r.loop.memoryView().lastScaleOutAt, 'the store has the same cooldown start, for restarts');
  t.deepEqual(r.loop.memoryView().inFlight, []);
});

test('with while_booting add, a second scale-out starts beside one whose guests still boot, and the pool never goes above max', async (t) => {
  let clock: ManualClock | undefined;
  const r = rig({
    scaleOut: { cooldownMs: 0, whileBooting: 'add' },
    rules: [{ name: 'rps', strategy: 'target-tracking', metric: 'rps', aggregate: 'mean', target: 10, tolerance: 0.1, for: 1 }],
  }, async () => clock!.sleep(8000));
  clock = r.clock;
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  for (let i = 0; i < 12; i++) await r.clock.advance(1000); // the first two guests (to min) are up
  r.load.total = 40; // 2 guests x 20 rps: 4 wanted
  await r.clock.advance(1000);
  r.load.total = 70; // 2 serving guests x 35 rps: 7 wanted, 4 counted
  for (let i = 0; i < 3; i++) await r.clock.advance(1000);
  r.load.total = 200; // 20 wanted: max 8
  for (let i = 0; i < 30; i++) await r.clock.advance(1000);
  await r.loop.stop();
  const outs = (await r.store.listEvents({ pool: 'web' })).reverse().filter((e) => e.direction === 'scale-out' && e.from >= 2);
  t.deepEqual(outs.map((e) => `${e.from}->${e.to}`).slice(0, 2), ['2->4', '4->7']);
  const guests = await r.store.listGuests({ pool: 'web' });
  const firstUp = Math.min(...guests.filter((g) => g.createdAt >= outs[0]!.at && g.createdAt < outs[1]!.at).map((g) => g.healthyAt!));
  t.true(outs[1]!.at < firstUp, 'the second scale-out did not wait for the first one\'s guests');
  t.true(outs.every((e) => e.outcome === 'done'), outs.map((e) => `${e.outcome}: ${e.detail}`).join('; '));
  t.is(Math.max(...outs.map((e) => e.to)), 8);
  t.is(await size(r.store), 8);
  t.deepEqual(r.loop.memoryView().inFlight, []);
});

test('a restarted loop keeps the cooldown it finds in the store', async (t) => {
  const r = rig({ scaleOut: { cooldownMs: 60_000, whileBooting: 'hold' } });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  await r.lifecycle.launch(r.policy, 'web-a');
  await r.lifecycle.launch(r.policy, 'web-b');
  await r.store.savePool({ pool: 'web', file: r.policy.file, managed: true, desired: 2, lastScaleOutAt: r.clock.now() - 30_000, updatedAt: r.clock.now() });
  r.load.total = 1000;
  r.loop.start();
  for (let i = 0; i < 3; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  t.regex(r.loop.status().lastDecision!.reason, /^cooldown: scale-out blocked for another 2\ds/);
  t.is(await size(r.store), 2);
  await r.loop.stop();
});

test('a decision is re-checked against fresh state and skipped when the pool changed', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  await r.lifecycle.launch(r.policy, 'web-a');
  await r.lifecycle.launch(r.policy, 'web-b');
  const stale = { pool: 'web', at: 0, action: 'scale-out' as const, from: 1, to: 2, reason: 'test', inputs: { series: {}, min: 2, max: 8, schedules: [] } };
  const out = await new Actuator(r.store, r.lifecycle).apply(stale, r.policy);
  t.is(out.outcome, 'skipped');
  t.regex(out.detail, /2 guests now/);
  t.is(r.hv.callsOf('clone').length, 2);
});

test('after a restart half-made guests are undone, interrupted retirements finished and healthy ones adopted', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const base = { pool: 'web', driver: 'fake', host: 'h', createdAt: 1, updatedAt: 1 };
  const guests: Guest[] = [
    { ...base, id: 'web-cloning', state: 'cloning', meta: {} },
    { ...base, id: 'web-booting', state: 'booting', address: '127.0.0.1:1', meta: {} },
    { ...base, id: 'web-healthy', state: 'healthy', address: '127.0.0.1:2', meta: {} },
    { ...base, id: 'web-vanished', state: 'healthy', address: '127.0.0.1:3', meta: {} },
    { ...base, id: 'web-draining', state: 'draining', address: '127.0.0.1:4', meta: {} },
  ];
  for (const g of guests) await r.store.saveGuest(g);
  r.hv.seed({ id: 'web-cloning', pool: 'web', cloned: true, running: false, meta: {} });
  r.hv.seed({ id: 'web-booting', pool: 'web', cloned: true, running: true, meta: {} });
  r.hv.seed({ id: 'web-healthy', pool: 'web', cloned: true, running: true, address: '127.0.0.1:2', meta: {} });
  r.hv.seed({ id: 'web-draining', pool: 'web', cloned: true, running: true, meta: {} });
  r.hv.seed({ id: 'web-orphan', pool: 'web', cloned: true, running: true, meta: {} });
  const report = repairsByKind(await reconcilePool({ store: r.store, hypervisors: [r.hv], balancer: r.balancer, lifecycle: r.lifecycle, clock: r.clock, telemetry: r.telemetry }, 'web', r.policy, undefined, { takeover: true }));
  t.deepEqual(report.adopted, ['web-healthy']);
  t.deepEqual(report.undone.sort(), ['web-booting', 'web-cloning']);
  t.deepEqual(report.finished, ['web-draining']);
  t.deepEqual(report['record-gone'], ['web-vanished']);
  t.deepEqual(report['unknown-guest'], ['web-orphan']);
  t.deepEqual(r.balancer.snapshot('web').map((b) => b.id), ['web-healthy']);
  const running = [...r.hv.guests.values()].filter((g) => g.running || g.cloned).map((g) => g.id);
  t.deepEqual(running, ['web-healthy']);
  t.is((await r.store.getGuest('web-cloning'))?.state, 'failed');
  t.is((await r.store.getGuest('web-draining'))?.state, 'gone');
});

test('after a restart, a guest cut off mid-clone is undone with what its driver recorded (the clone path), the store winning where both know', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  // The crash came before the clone step returned: the store has no meta and no host yet.
  await r.store.saveGuest({ id: 'web-cut', pool: 'web', state: 'cloning', driver: 'fake', host: '', createdAt: 1, updatedAt: 1, meta: { note: 'store' } });
  r.hv.seed({ id: 'web-cut', pool: 'web', cloned: true, running: false, meta: { disk: '/images/web-cut.img', note: 'driver' } });
  const report = repairsByKind(await reconcilePool({ store: r.store, hypervisors: [r.hv], balancer: r.balancer, lifecycle: r.lifecycle, clock: r.clock, telemetry: r.telemetry }, 'web', r.policy, undefined, { takeover: true }));
  t.deepEqual(report.undone, ['web-cut']);
  const del = r.hv.calls.find((c) => c.method === 'deleteClone' && c.id === 'web-cut');
  t.is(del?.guest?.meta['disk'], '/images/web-cut.img', 'the clone path came from the driver');
  t.is(del?.guest?.meta['note'], 'store');
  t.is(del?.guest?.host, 'fakehost');
  t.false(r.hv.guests.has('web-cut'), 'nothing left');
  t.deepEqual(report['unknown-guest'], []);
});

test('after a restart whose discovery failed, healthy guests of that driver are adopted, not destroyed as vanished', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const g: Guest = { pool: 'web', driver: 'fake', host: 'h', createdAt: 1, updatedAt: 1, id: 'web-healthy', state: 'healthy', address: '127.0.0.1:2', meta: {} };
  await r.store.saveGuest(g);
  r.hv.seed({ id: 'web-healthy', pool: 'web', cloned: true, running: true, address: '127.0.0.1:2', meta: {} });
  r.hv.failNext('discover', new GridhostError('GH_HOST_UNREACHABLE', 'dom0 not answering'));
  const report = repairsByKind(await reconcilePool({ store: r.store, hypervisors: [r.hv], balancer: r.balancer, lifecycle: r.lifecycle, clock: r.clock, telemetry: r.telemetry }, 'web', r.policy, undefined, { takeover: true }));
  t.deepEqual(report.adopted, ['web-healthy']);
  t.deepEqual(report['record-gone'], []);
  t.deepEqual(r.hv.callsOf('stop'), []);
  t.deepEqual(r.hv.callsOf('deleteClone'), []);
  t.is((await r.store.getGuest('web-healthy'))?.state, 'healthy');
  t.deepEqual(r.balancer.snapshot('web').map((b) => b.id), ['web-healthy']);
});

test('after a restart, healthy guests on a host that is down (skipped by discovery) are adopted, not destroyed', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const base = { pool: 'web', driver: 'fake', createdAt: 1, updatedAt: 1, state: 'healthy' as const, meta: {} };
  await r.store.saveGuest({ ...base, id: 'web-up', host: 'h1', address: '127.0.0.1:2' });
  await r.store.saveGuest({ ...base, id: 'web-down', host: 'h2', address: '127.0.0.1:3' });
  // The driver sees h1 only (h2 did not answer and was skipped).
  const hv = Object.assign(r.hv, { hostUp: (host: string) => host !== 'h2' });
  const report = repairsByKind(await reconcilePool({ store: r.store, hypervisors: [hv], balancer: r.balancer, lifecycle: r.lifecycle, clock: r.clock, telemetry: r.telemetry }, 'web', r.policy, undefined, { takeover: true }));
  t.deepEqual(report.adopted, ['web-down']);
  t.deepEqual(report['record-gone'], ['web-up']);
  t.deepEqual(r.hv.callsOf('stop'), ['web-up']);
  t.is((await r.store.getGuest('web-down'))?.state, 'healthy');
});

test('guests on a host that stopped answering count as lost: the pool is rebuilt, the lost guests are left alone', async (t) => {
  const lost = new Set<string>();
  const r = rig({}, async () => undefined, lost);
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  await r.clock.advance(10);
  await r.loop.idle();
  const first = (await r.store.listGuests({ pool: 'web', states: ['healthy'] })).map((g) => g.id);
  t.is(first.length, 2);
  // Their dom0 goes dark.
  for (const id of first) lost.add(id);
  r.load.total = 5; // between the thresholds: only the bound matters
  for (let i = 0; i < 5; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  const healthy = (await r.store.listGuests({ pool: 'web', states: ['healthy'] })).map((g) => g.id);
  t.is(healthy.length, 4, 'two replacements launched beside the two lost guests');
  t.deepEqual(r.hv.callsOf('stop'), [], 'lost guests are not destroyed: their host may come back');
  t.true(r.telemetry.lines.some((l) => l.msg.includes('count as lost')));
  const events = await r.store.listEvents({ pool: 'web' });
  t.regex(events[0]!.reason, /scale-out 0 -> 2: below min 2/);
  await r.loop.stop();
});

test('a guest whose drain fails is still stopped and its clone deleted, and the drain error is reported', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-a');
  r.balancer.inject('setDrain', new GridhostError('GH_BALANCER_FAILED', 'balancer down'));
  await t.throwsAsync(r.lifecycle.retire(guest, r.policy, 'test'), { code: 'GH_BALANCER_FAILED' } as never);
  t.is((await r.store.getGuest('web-a'))?.state, 'gone');
  t.false(r.hv.guests.get('web-a')?.running ?? false);
  t.false(r.hv.guests.get('web-a')?.cloned ?? false);
  t.is(r.balancer.snapshot('web').length, 0);
});

test('each failed launch is reported once, with its own error code', async (t) => {
  const r = rig({}, async (g) => {
    throw new GridhostError('GH_HEALTH_TIMEOUT', `${g.id} never healthy`);
  });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  await r.clock.advance(10);
  await r.loop.idle();
  await r.loop.stop();
  // The first tick launches 2 (up to min) and both fail.
  t.deepEqual(r.telemetry.launchFailures, ['web', 'web']);
  t.deepEqual(r.telemetry.launchErrors.map((e) => (e as GridhostError).code), ['GH_HEALTH_TIMEOUT', 'GH_HEALTH_TIMEOUT']);
  t.deepEqual(r.telemetry.launchErrors.map((e) => (e as GridhostError).message).sort(), (await r.store.listGuests({ pool: 'web' })).map((g) => `${g.id} never healthy`).sort());
});

test('a failed tick is reported once, as an evaluation error, and the loop goes on', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.store.failNext('getPool');
  r.loop.start();
  await r.clock.advance(10);
  await r.loop.idle();
  t.deepEqual(r.telemetry.evaluationErrors, ['web']);
  t.deepEqual(r.telemetry.lines.filter((l) => l.level === 'error'), []);
  t.is(await size(r.store), 0);
  await r.clock.advance(1000);
  await r.loop.idle();
  t.is(await size(r.store), 2);
  await r.loop.stop();
});

test('a guest left stopping by a failed cleanup is retried by the loop, and the pool scales again once it is gone', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-a');
  r.hv.failNext('stop', new GridhostError('GH_STOP_FAILED', 'toolstack busy'));
  await t.throwsAsync(r.lifecycle.retire(guest, r.policy, 'test'), { code: 'GH_STOP_FAILED' } as never);
  t.is((await r.store.getGuest('web-a'))?.state, 'stopping');
  r.loop.start();
  for (let i = 0; i < 5; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  t.is((await r.store.getGuest('web-a'))?.state, 'gone');
  t.false(r.hv.guests.get('web-a')?.running ?? false);
  t.false(r.hv.guests.get('web-a')?.cloned ?? false);
  t.is(await size(r.store), 2);
  await r.loop.stop();
});

test('a cleanup that keeps failing is retried at most every STOPPING_RETRY_MS and reported each time', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-a');
  r.hv.failWhen((m) => (m === 'stop' ? new GridhostError('GH_STOP_FAILED', 'toolstack busy') : undefined));
  await t.throwsAsync(r.lifecycle.retire(guest, r.policy, 'test'));
  r.loop.start();
  for (let i = 0; i < (2 * STOPPING_RETRY_MS) / 1000 + 5; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  await r.loop.stop();
  // One stop in retire(), then retries at the first tick, one period later and two periods later.
  t.is(r.hv.callsOf('stop').length, 4);
  t.is(r.telemetry.lines.filter((l) => l.level === 'error' && l.msg.startsWith('cleanup of a guest failed again')).length, 3);
  t.is((await r.store.getGuest('web-a'))?.state, 'stopping');
});

test('the breaker is reported no longer open when its open period ends, even if no launch follows', async (t) => {
  const r = rig({ breaker: { failures: 2, openMs: 60_000 } });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.failWhen((m) => (m === 'boot' ? new GridhostError('GH_BOOT_FAILED', 'broken template') : undefined));
  r.loop.start();
  await r.clock.advance(10);
  await r.loop.idle();
  t.deepEqual(r.telemetry.breakers, [{ pool: 'web', open: true }]);
  // Nothing needs launching any more (the pool may be empty now).
  r.loop.updatePolicy({ ...r.policy, min: 0 });
  const boots = r.hv.callsOf('boot').length;
  for (let i = 0; i < 30; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  t.deepEqual(r.telemetry.breakers, [{ pool: 'web', open: true }], 'still open inside the open period');
  for (let i = 0; i < 35; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  t.deepEqual(r.telemetry.breakers, [{ pool: 'web', open: true }, { pool: 'web', open: false }]);
  t.is(r.hv.callsOf('boot').length, boots);
  await r.loop.stop();
});

test('a cleanup that fails again is logged with the guest it is about (details added on the way up arrive)', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-a');
  // The driver's error already is a GridhostError: the guest id is added by the actuator.
  r.hv.failWhen((m) => (m === 'stop' ? new GridhostError('GH_STOP_FAILED', 'toolstack busy') : undefined));
  await t.throwsAsync(r.lifecycle.retire(guest, r.policy, 'test'));
  r.loop.start();
  await r.clock.advance(1000);
  await r.loop.idle();
  await r.loop.stop();
  const line = r.telemetry.lines.find((l) => l.level === 'error' && l.msg.startsWith('cleanup of a guest failed again'));
  t.like(line?.fields, { pool: 'web', guest: 'web-a', code: 'GH_STOP_FAILED' });
});

test('a rule whose metric no guest reports gets one warn line after a minute', async (t) => {
  // The guests report rps; the rule asks for inflight.
  const r = rig({ rules: [{ name: 'queue', strategy: 'target-tracking', metric: 'inflight', source: 'guest', aggregate: 'mean', target: 4, tolerance: 0.1, for: 1 }] });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  for (let i = 0; i < 120; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  const warned = r.telemetry.lines.filter((l) => l.level === 'warn' && l.msg.startsWith('no guest has reported metric inflight'));
  t.is(warned.length, 1);
  t.deepEqual(warned[0]!.fields, { pool: 'web', rule: 'queue', metric: 'inflight', source: 'guest', reported: ['rps'] });
  await r.loop.stop();
});

test('mode recommend decides and publishes each change of recommendation once, and launches and retires nothing', async (t) => {
  const r = rig({ mode: 'recommend' });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  for (let i = 0; i < 5; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  t.is(r.hv.callsOf('clone').length, 0, 'an empty pool below min is not filled');
  const events = await r.store.listEvents({ pool: 'web' });
  t.is(events.length, 1, 'published once, not every tick');
  t.like(events[0], { direction: 'scale-out', from: 0, to: 2, outcome: 'recommended', detail: 'mode: recommend: nothing was launched or retired' });
  t.regex(events[0]!.reason, /below min 2/);
  t.like(r.telemetry.scaleEvents.at(-1), { direction: 'scale-out', outcome: 'recommended' });
  t.like(r.loop.status().lastDecision, { action: 'scale-out', to: 2 });
  await r.loop.stop();
});

test('switching a pool from recommend to act takes effect at the next tick, and back', async (t) => {
  const r = rig({ mode: 'recommend', min: 2 });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  await r.lifecycle.launch(r.policy, 'web-a');
  await r.lifecycle.launch(r.policy, 'web-b');
  r.loop.start();
  r.load.total = 1000;
  for (let i = 0; i < 6; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  t.is(await size(r.store), 2, 'recommend: the load does not grow the pool');
  const recommended = (await r.store.listEvents({ pool: 'web' })).filter((e) => e.outcome === 'recommended');
  t.deepEqual(recommended.map((e) => `${e.direction} ${e.from}->${e.to}`), ['scale-out 2->3']);
  const clones = r.hv.callsOf('clone').length;

  r.loop.updatePolicy({ ...r.policy, mode: 'act' });
  await r.clock.advance(1000);
  await r.loop.idle();
  t.is(r.hv.callsOf('clone').length, clones + 1, 'the first tick in act mode launches');
  t.is(await size(r.store), 3);

  r.loop.updatePolicy({ ...r.policy, mode: 'recommend' });
  for (let i = 0; i < 6; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
  t.is(await size(r.store), 3, 'back in recommend: nothing more is launched');
  t.is(r.hv.callsOf('clone').length, clones + 1);
  await r.loop.stop();
});
