// The warm pool against fakes: how a warm guest is made and taken (GuestLifecycle), that a
// scale-out takes warm guests first and launches cold for the rest or for one it cannot take
// (Actuator), how the warm pool is kept at its size (WarmPool), and what a restart does with
// warm and warming guests (reconciler).
import test from 'ava';
import type { Guest, GuestState, ScaleOutDecision } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import { GridhostError } from '../errors/errors.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { Actuator } from './actuator.ts';
import { WarmPool } from './warm-pool.ts';
import { reconcilePool, repairsByKind } from './reconciler.ts';

async function rig(size = 1) {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => clock.advance(300), pollMs: 10 });
  const policy: Policy = makePolicy({ warmPool: { size } });
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const launches: { n: number; errors: number }[] = [];
  const warm = new WarmPool('web', { lifecycle, telemetry, recordLaunches: (n, errors) => launches.push({ n, errors: errors.length }) });
  return { clock, store, hv, balancer, telemetry, lifecycle, policy, warm, launches };
}

const states = async (store: MemoryStore, state: GuestState): Promise<Guest[]> => store.listGuests({ pool: 'web', states: [state] });
const scaleOut = (from: number, to: number, at: number): ScaleOutDecision => ({ pool: 'web', at, action: 'scale-out', from, to, reason: 'test', inputs: { series: {}, min: 1, max: 8, schedules: [] } });

test('a warm guest is cloned, booted, health-checked and paused, out of the balancer; its history says so', async (t) => {
  const r = await rig();
  const g = await r.lifecycle.makeWarm(r.policy, 'web-w1');
  t.is(g.state, 'warm');
  t.true(r.hv.guests.get('web-w1')?.paused);
  t.is(g.meta.paused, '1');
  t.deepEqual(r.balancer.snapshot('web'), []);
  t.deepEqual(g.history?.map((h) => h.action), ['clone', 'boot', 'health', 'pause']);
  t.deepEqual(r.hv.calls.map((c) => c.method), ['clone', 'boot', 'pause']);
});

test('a warm guest that fails to be made is cleaned up and recorded failed, leaving nothing', async (t) => {
  const r = await rig();
  r.hv.failNext('pause', new GridhostError('GH_BOOT_FAILED', 'no such process'));
  const e = await t.throwsAsync(r.lifecycle.makeWarm(r.policy, 'web-w2'));
  t.is((e as GridhostError).code, 'GH_BOOT_FAILED');
  t.is((await r.store.getGuest('web-w2'))?.state, 'failed');
  t.false(r.hv.guests.has('web-w2'), 'stopped and its clone deleted');
});

test('taking a warm guest unpauses it, checks it and registers it: warm -> booting -> healthy', async (t) => {
  const r = await rig();
  const warm = await r.lifecycle.makeWarm(r.policy, 'web-w3');
  const { guest, timings } = await r.lifecycle.takeWarm(warm, r.policy);
  t.is(guest.state, 'healthy');
  t.false(r.hv.guests.get('web-w3')?.paused);
  t.is(guest.meta.paused, '0');
  t.true(timings.warm);
  t.is(timings.cloneMs, 0);
  t.deepEqual(r.balancer.snapshot('web').map((b) => b.id), ['web-w3']);
  const moves = r.telemetry.guestSteps.filter((s) => s.from !== undefined).map((s) => `${s.from} -> ${s.to}`);
  t.deepEqual(moves.slice(-2), ['warm -> booting', 'booting -> healthy']);
});

test('a warm guest changed since it was read is not taken (compare-and-set): nothing is unpaused', async (t) => {
  const r = await rig();
  const warm = await r.lifecycle.makeWarm(r.policy, 'web-w4');
  await r.store.saveGuest({ ...warm, meta: { ...warm.meta, note: 'someone else' } });
  const e = await t.throwsAsync(r.lifecycle.takeWarm(warm, r.policy));
  t.is((e as GridhostError).code, 'GH_STALE_WRITE');
  t.deepEqual(r.hv.callsOf('unpause'), []);
  t.is((await r.store.getGuest('web-w4'))?.state, 'warm');
});

test('a scale-out takes the warm guests first and launches the rest cold; each is reported by path', async (t) => {
  const r = await rig();
  await r.store.saveGuest({ id: 'web-h', pool: 'web', state: 'healthy', driver: 'fake', host: 'fakehost', createdAt: 1, updatedAt: 1, meta: {} });
  await r.lifecycle.makeWarm(r.policy, 'web-w5');
  const actuator = new Actuator(r.store, r.lifecycle);
  const out = await actuator.apply(scaleOut(1, 3, r.clock.now()), r.policy);
  t.is(out.outcome, 'done', out.detail);
  t.is(out.launched, 2);
  t.is(out.warm, 1);
  t.regex(out.detail, /launched 2 \(1 from the warm pool\)/);
  t.is((await states(r.store, 'healthy')).length, 3);
  t.deepEqual(r.hv.callsOf('clone').filter((id) => id !== 'web-w5').length, 1, 'one cold clone');
  t.deepEqual(r.telemetry.served.map((s) => s.path).sort(), ['cold', 'warm']);
});

test('a warm guest that cannot be unpaused is cleaned up and a cold launch takes its place', async (t) => {
  const r = await rig();
  await r.store.saveGuest({ id: 'web-h', pool: 'web', state: 'healthy', driver: 'fake', host: 'fakehost', createdAt: 1, updatedAt: 1, meta: {} });
  await r.lifecycle.makeWarm(r.policy, 'web-w6');
  r.hv.crash('web-w6');
  const out = await new Actuator(r.store, r.lifecycle).apply(scaleOut(1, 2, r.clock.now()), r.policy);
  t.is(out.outcome, 'done', out.detail);
  t.is(out.launched, 1);
  t.is(out.warm, 0);
  t.is((await r.store.getGuest('web-w6'))?.state, 'failed');
  t.deepEqual(r.telemetry.served.map((s) => s.path), ['cold']);
  t.true(r.telemetry.lines.some((l) => l.level === 'warn' && /warm guest could not be taken/.test(l.msg)));
});

test('warm guests do not count: a decision made from the serving guests is carried out beside them', async (t) => {
  const r = await rig(2);
  await r.store.saveGuest({ id: 'web-h', pool: 'web', state: 'healthy', driver: 'fake', host: 'fakehost', createdAt: 1, updatedAt: 1, meta: {} });
  await r.lifecycle.makeWarm(r.policy, 'web-w7');
  await r.store.saveGuest({ id: 'web-w8', pool: 'web', state: 'warming', driver: 'fake', host: 'fakehost', createdAt: 2, updatedAt: 2, meta: {} });
  const out = await new Actuator(r.store, r.lifecycle).apply(scaleOut(1, 2, r.clock.now()), r.policy);
  t.is(out.outcome, 'done', out.detail);
  t.is(out.warm, 1, 'a guest still warming is not taken, nor does it hold the decision');
});

test('the warm pool makes what it lacks in the background, one batch at a time, and reports its launches', async (t) => {
  const r = await rig(2);
  r.warm.tick(r.policy, [], true);
  t.true(r.warm.busy());
  r.warm.tick(r.policy, [], true); // a batch runs: nothing more starts
  await r.warm.idle();
  t.is((await states(r.store, 'warm')).length, 2);
  t.deepEqual(r.launches, [{ n: 2, errors: 0 }]);
  r.warm.tick(r.policy, await r.store.listGuests({ pool: 'web' }), true);
  t.false(r.warm.busy(), 'at its size: nothing to do');
});

test('the warm pool makes nothing when it may not act, and counts failed makes for the breaker', async (t) => {
  const r = await rig(1);
  r.warm.tick(r.policy, [], false);
  t.false(r.warm.busy());
  r.hv.failNext('boot', new GridhostError('GH_BOOT_FAILED', 'bad template'));
  r.warm.tick(r.policy, [], true);
  await r.warm.idle();
  t.deepEqual(r.launches, [{ n: 0, errors: 1 }]);
  t.true(r.telemetry.lines.some((l) => l.level === 'warn' && l.msg === 'a warm guest could not be made'));
});

test('warm guests above a lowered size are retired, oldest first, leaving nothing', async (t) => {
  const r = await rig(2);
  await r.lifecycle.makeWarm(r.policy, 'web-old');
  await r.clock.advance(1000);
  await r.lifecycle.makeWarm(r.policy, 'web-new');
  const lowered = makePolicy({ warmPool: { size: 1 } });
  r.warm.tick(lowered, await r.store.listGuests({ pool: 'web' }), true);
  await r.warm.idle();
  t.is((await r.store.getGuest('web-old'))?.state, 'gone');
  t.is((await r.store.getGuest('web-new'))?.state, 'warm');
  t.false(r.hv.guests.has('web-old'));
});

test('after a restart a warm guest its driver still has is kept warm (warm-adopted), a warming one undone, a lost one marked gone', async (t) => {
  const r = await rig(2);
  await r.lifecycle.makeWarm(r.policy, 'web-kept');
  await r.lifecycle.makeWarm(r.policy, 'web-lost');
  r.hv.crash('web-lost');
  await r.store.saveGuest({ id: 'web-half', pool: 'web', state: 'warming', driver: 'fake', host: 'fakehost', createdAt: 1, updatedAt: 1, meta: {} });
  r.hv.seed({ id: 'web-half', pool: 'web', running: true, meta: {} });
  const deps = { store: r.store, hypervisors: [r.hv], balancer: r.balancer, lifecycle: r.lifecycle, clock: r.clock, telemetry: r.telemetry };
  const rep = repairsByKind(await reconcilePool(deps, 'web', r.policy, undefined, { takeover: true }));
  t.deepEqual(rep['warm-adopted'], ['web-kept']);
  t.deepEqual(rep.undone, ['web-half']);
  t.deepEqual(rep['record-gone'], ['web-lost']);
  t.is((await r.store.getGuest('web-kept'))?.state, 'warm');
  t.true(r.hv.guests.get('web-kept')?.paused, 'still paused, never unpaused or stopped');
  t.deepEqual(r.balancer.snapshot('web'), [], 'and not added to the balancer');
});

test('a warm guest made from another template is retired and a current one made in its place', async (t) => {
  const r = await rig(1);
  await r.lifecycle.makeWarm(r.policy, 'web-stale');
  r.warm.tick(r.policy, await r.store.listGuests({ pool: 'web' }), true, new Set(['web-stale']));
  await r.warm.idle();
  t.is((await r.store.getGuest('web-stale'))?.state, 'gone');
  const warm = await states(r.store, 'warm');
  t.is(warm.length, 1);
  t.not(warm[0]!.id, 'web-stale');
});
