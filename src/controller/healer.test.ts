// Auto-heal through the real pool loop against fakes on a manual clock: sick guests are taken
// out of rotation, replaced (new guest first, then the sick one retired), within the breaker
// and the per-pool cap, and never while the pool fails open.
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
import { GuestLifecycle } from './guest-lifecycle.ts';
import { Actuator } from './actuator.ts';
import { Healer, type ReplaceResult } from './healer.ts';
import { PoolLoop } from './pool-loop.ts';
import { reconcilePool, repairsByKind } from './reconciler.ts';

const quiet: MetricsSource = {
  name: 'quiet',
  sample: async (guests: readonly Guest[]) => new Map<string, MetricValues>(guests.map((g) => [g.id, { rps: 5 }])),
  close: async () => undefined,
};

/** Every guest reports `load.rps` (the busy rule wants more above 100). */
function loadOf(load: { rps: number }): MetricsSource {
  return { name: 'load', sample: async (guests: readonly Guest[]) => new Map<string, MetricValues>(guests.map((g) => [g.id, { rps: load.rps }])), close: async () => undefined };
}

async function rig(over: Partial<Policy> = {}, metrics: MetricsSource = quiet) {
  const policy = makePolicy({
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    breaker: { failures: 2, openMs: 60_000 },
    rules: [{ name: 'busy', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 100, for: 1, step: { kind: 'count', value: 1 } }],
    ...over,
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const healer = new Healer({ store, balancer, lifecycle, clock, telemetry, gone: (gs) => hv.gone(gs) });
  const loop = new PoolLoop(policy, { store, metrics, actuator: new Actuator(store, lifecycle), clock, telemetry, healer });
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const step = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      await clock.advance(1000);
      await loop.idle();
    }
  };
  const live = async () => store.listGuests({ pool: 'web', states: ['cloning', 'booting', 'healthy', 'sick', 'draining', 'stopping'] });
  loop.start();
  await step(2);
  const first = await live();
  if (first.length !== policy.min || first.some((g) => g.state !== 'healthy')) throw new Error(`rig: pool did not reach min healthy guests: ${JSON.stringify(first.map((g) => g.state))}`);
  return { policy, clock, store, hv, balancer, telemetry, loop, step, live, first };
}

test('a guest whose health check falls after being healthy is replaced: new guest first, then the sick one retired', async (t) => {
  const r = await rig();
  t.teardown(() => r.loop.stop());
  const [sick, other] = r.first;
  r.balancer.fall('web', sick!.id, 'timeout after 2000 ms');
  await r.step(3);
  const live = await r.live();
  t.is(live.length, 2, 'the pool keeps its size');
  t.true(live.every((g) => g.state === 'healthy'));
  t.false(live.some((g) => g.id === sick!.id), 'the sick guest is gone');
  t.true(live.some((g) => g.id === other!.id));
  t.is((await r.store.getGuest(sick!.id))?.state, 'gone');
  // Out of rotation at once (drained), before the replacement was even cloned.
  const drainAt = r.balancer.calls.findIndex((c) => c.method === 'setDrain' && c.args[1] === sick!.id);
  const replacement = live.find((g) => g.id !== other!.id)!;
  t.true(drainAt >= 0);
  t.true(r.hv.calls.findIndex((c) => c.method === 'clone' && c.id === replacement.id) >= 0);
  t.true(r.hv.calls.findIndex((c) => c.method === 'boot' && c.id === replacement.id) < r.hv.calls.findIndex((c) => c.method === 'stop' && c.id === sick!.id), 'the replacement booted before the sick guest was stopped');
  t.like(r.telemetry.sick[0], { guest: sick!.id, cause: 'health' });
  t.regex(r.telemetry.sick[0]!.reason, /failed its health check .* after being healthy, the last: timeout after 2000 ms/);
  const ev = (await r.store.listEvents({ pool: 'web' })).find((e) => e.direction === 'replace')!;
  t.like(ev, { outcome: 'done', from: 2, to: 2 });
  t.regex(ev.reason, new RegExp(`replace ${sick!.id}: failed its health check`));
  t.regex(ev.detail ?? '', new RegExp(`launched ${replacement.id}; retired ${sick!.id}`));
  t.deepEqual(r.telemetry.replacements, [{ pool: 'web', cause: 'health', outcome: 'done' }]);
});

test('a guest whose process is gone is replaced, and the event says so', async (t) => {
  const r = await rig();
  t.teardown(() => r.loop.stop());
  const [dead] = r.first;
  r.hv.crash(dead!.id);
  await r.step(3);
  t.is((await r.store.getGuest(dead!.id))?.state, 'gone');
  t.is((await r.live()).filter((g) => g.state === 'healthy').length, 2);
  t.like(r.telemetry.sick[0], { guest: dead!.id, cause: 'gone' });
  t.regex((await r.store.listEvents({ pool: 'web' })).find((e) => e.direction === 'replace')!.reason, /its process is gone/);
});

test('while the pool fails open failing checks make nobody sick (overload is not breakage); a gone process still does', async (t) => {
  const r = await rig();
  t.teardown(() => r.loop.stop());
  const [a, b] = r.first;
  r.balancer.fall('web', a!.id);
  r.balancer.fall('web', b!.id);
  r.balancer.setPoolServing('web', { failOpen: true });
  await r.step(3);
  t.deepEqual(r.telemetry.sick, []);
  t.deepEqual((await r.live()).map((g) => g.state), ['healthy', 'healthy']);
  r.hv.crash(b!.id);
  await r.step(3);
  t.deepEqual(r.telemetry.sick.map((s) => [s.guest, s.cause]), [[b!.id, 'gone']]);
});

test('a fallen guest is left in place for the confirmation window (others may be falling too), then replaced', async (t) => {
  const r = await rig({ balancer: { ...makePolicy().balancer, check: { intervalMs: 1000, fall: 2 } } });
  t.teardown(() => r.loop.stop());
  const [a] = r.first;
  r.balancer.fall('web', a!.id, 'timeout after 1000 ms', r.clock.now());
  await r.step(2);
  t.deepEqual(r.telemetry.sick, [], 'down for 2 s of a 3 s window');
  await r.step(2);
  t.deepEqual(r.telemetry.sick.map((x) => x.guest), [a!.id]);
});

test('a sick guest counts no more, and its replacement is the only launch for it: no scale-out to min beside it', async (t) => {
  const r = await rig();
  t.teardown(() => r.loop.stop());
  const release = r.hv.holdNext('clone');
  t.teardown(release);
  r.balancer.fall('web', r.first[0]!.id);
  await r.clock.advance(1000);
  await new Promise((res) => setImmediate(res));
  const st = r.loop.status();
  t.is(st.lastDecision?.action, 'hold');
  t.is(st.lastDecision!.from, 2, 'the sick guest counts as the capacity its replacement brings, not as serving');
  t.notRegex(st.lastDecision!.reason, /change in flight: .*sick/, 'a sick guest is no change in flight');
  t.deepEqual((await r.live()).map((g) => g.state).sort(), ['cloning', 'healthy', 'sick'], 'one replacement, no scale-out to min beside it');
  const replacement = (await r.live()).find((g) => g.state === 'cloning')!;
  t.is(replacement.meta.replaces, r.first[0]!.id, 'the replacement names the guest it replaces');
  release();
  await r.loop.idle();
  t.deepEqual((await r.live()).map((g) => g.state), ['healthy', 'healthy']);
});

test('a sick guest waiting for its replacement does not hold a scale-out that load calls for (issue 15)', async (t) => {
  // while_booting add: guests on their way up hold no scale-out, so only the sick guest could.
  const load = { rps: 5 };
  // Step +2: more than the replacement brings (a step counts from the guests that report).
  const rules: Policy['rules'] = [{ name: 'busy', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 100, for: 1, step: { kind: 'count', value: 2 } }];
  const r = await rig({ max: 6, scaleOut: { cooldownMs: 0, whileBooting: 'add' }, rules }, loadOf(load));
  t.teardown(() => r.loop.stop());
  const release = r.hv.holdNext('clone');
  t.teardown(release);
  const [dead] = r.first;
  r.hv.crash(dead!.id);
  // The replacement starts (its clone held), then load calls for more.
  await r.clock.advance(1000);
  for (let i = 0; i < 50 && !(await r.live()).some((g) => g.state === 'cloning'); i++) await new Promise((res) => setImmediate(res));
  load.rps = 500;
  for (let i = 0; i < 3; i++) {
    await r.clock.advance(1000);
    await new Promise((res) => setImmediate(res));
  }
  const states = (await r.live()).map((g) => g.state);
  t.true(states.includes('sick') && states.includes('cloning'), `the replacement is still pending: ${states.join(', ')}`);
  const outs = (await r.store.listEvents({ pool: 'web' })).filter((e) => e.direction === 'scale-out' && e.from > 0).sort((a, b) => a.at - b.at);
  t.true(outs.length > 0, 'a scale-out started while the replacement was pending');
  t.like(outs[0], { from: 2, to: 3 }, 'from the size the pool keeps (1 serving + 1 replacement coming), not 1');
  t.regex(outs[0]!.reason, /rps mean 500/);
  release();
  await r.loop.idle();
  t.is((await r.store.getGuest(dead!.id))?.state, 'gone');
});

test('replacements respect the cap per pool: three sick guests with max_concurrent 1 are replaced one after another', async (t) => {
  const r = await rig({ min: 3, autoHeal: { enabled: true, maxConcurrent: 1 } });
  t.teardown(() => r.loop.stop());
  const guests = (await r.live()).filter((g) => g.state === 'healthy');
  t.is(guests.length, 3);
  for (const g of guests) r.hv.crash(g.id);
  const clones = () => r.hv.callsOf('clone').length;
  for (let k = 0; k < 3; k++) {
    const release = r.hv.holdNext('clone');
    const before = clones();
    for (let i = 0; i < 4; i++) await r.clock.advance(1000);
    t.is(clones(), before + 1, `replacement ${k + 1}: one clone started, and no other while it is held`);
    release();
    await r.loop.idle();
  }
  t.is(r.telemetry.replacements.filter((x) => x.outcome === 'done').length, 3);
  t.true(r.telemetry.lines.some((l) => /2 sick guest\(s\) wait: 1 replacement\(s\) under way \(auto_heal.max_concurrent 1\)/.test(l.msg)));
  t.is((await r.live()).filter((g) => g.state === 'healthy').length, 3);
});

test('replacements respect the breaker: failed launches open it, the sick guest waits out of rotation, and is replaced after', async (t) => {
  const r = await rig();
  t.teardown(() => r.loop.stop());
  r.hv.failWhen((m) => (m === 'boot' ? new GridhostError('GH_BOOT_FAILED', 'template broken') : undefined));
  const [sick] = r.first;
  r.hv.crash(sick!.id);
  await r.step(6);
  t.is(r.loop.status().breaker.mode, 'open');
  t.is(r.hv.callsOf('boot').length, 2 + 2, 'two boots at start, then two failed replacements: none while open');
  t.is((await r.store.getGuest(sick!.id))?.state, 'sick', 'it waits, out of rotation');
  t.true(r.telemetry.lines.some((l) => /1 sick guest\(s\) wait: the launch circuit breaker is open/.test(l.msg)));
  const failed = (await r.store.listEvents({ pool: 'web' })).filter((e) => e.direction === 'replace' && e.outcome === 'failed');
  t.is(failed.length, 2);
  t.regex(failed[0]!.detail ?? '', /stays out of rotation/);
  r.hv.clearFailures();
  await r.step(61);
  t.is((await r.store.getGuest(sick!.id))?.state, 'gone');
  t.is(r.loop.status().breaker.mode, 'closed');
});

test('auto_heal.enabled false leaves a falling guest alone', async (t) => {
  const r = await rig({ autoHeal: { enabled: false, maxConcurrent: 1 } });
  t.teardown(() => r.loop.stop());
  r.balancer.fall('web', r.first[0]!.id);
  await r.step(3);
  t.deepEqual(r.telemetry.sick, []);
  t.is((await r.store.getGuest(r.first[0]!.id))?.state, 'healthy');
});

test('auto_heal.enabled false: a guest whose process is gone is still marked sick, retired with nothing left behind, and min brings the pool back', async (t) => {
  const r = await rig({ autoHeal: { enabled: false, maxConcurrent: 1 } });
  t.teardown(() => r.loop.stop());
  const [dead, survivor] = r.first;
  r.hv.crash(dead!.id);
  await r.step(1);
  t.like(r.telemetry.sick[0], { guest: dead!.id, cause: 'gone' });
  await r.step(6);
  const after = await r.store.getGuest(dead!.id);
  t.is(after?.state, 'gone', 'retired: its clone deleted and its balancer entry removed');
  t.false((await r.balancer.list('web')).some((b) => b.id === dead!.id));
  const live = await r.live();
  t.is(live.length, 2, JSON.stringify(live.map((g) => `${g.id}:${g.state}`)));
  t.true(live.every((g) => g.state === 'healthy'));
  t.true(live.some((g) => g.id === survivor!.id));
  t.deepEqual(r.telemetry.replacements, [], 'auto-heal off replaces nothing itself');
  const out = (await r.store.listEvents({ pool: 'web' })).find((e) => e.direction === 'scale-out' && e.from === 1);
  t.regex(out?.reason ?? '', /below min 2/, 'the pool\'s own rule (min) launched the new guest');
  t.true(r.telemetry.lines.some((l) => /retiring a sick guest; auto-heal is off/.test(l.msg)));
});

test('after a restart a sick guest is left to its pool loop, which replaces it', async (t) => {
  const r = await rig();
  await r.loop.stop();
  // What a gridhost killed right after marking a guest sick leaves: the guest sick in the store,
  // drained in the balancer, its process still running.
  const [sick] = r.first;
  await r.store.saveGuest({ ...(await r.store.getGuest(sick!.id))!, state: 'sick', error: 'failed its health check 2 times in a row after being healthy' });
  await r.balancer.setDrain('web', sick!.id);
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store: r.store, balancer: r.balancer, clock: r.clock, telemetry, hypervisorFor: () => r.hv, waitHealthy: async () => undefined, pollMs: 10 });
  const report = await reconcilePool({ store: r.store, hypervisors: [r.hv], balancer: r.balancer, lifecycle, clock: r.clock, telemetry }, 'web', r.policy, undefined, { takeover: true });
  t.deepEqual(repairsByKind(report).sick, [sick!.id]);
  t.is((await r.store.getGuest(sick!.id))?.state, 'sick', 'neither adopted back into rotation nor destroyed before its replacement');
  const healer = new Healer({ store: r.store, balancer: r.balancer, lifecycle, clock: r.clock, telemetry, gone: (gs) => r.hv.gone(gs) });
  const loop = new PoolLoop(r.policy, { store: r.store, metrics: quiet, actuator: new Actuator(r.store, lifecycle), clock: r.clock, telemetry, healer });
  t.teardown(() => loop.stop());
  loop.start();
  for (let i = 0; i < 4; i++) {
    await r.clock.advance(1000);
    await loop.idle();
  }
  t.is((await r.store.getGuest(sick!.id))?.state, 'gone');
  t.is((await r.live()).filter((g) => g.state === 'healthy').length, 2);
  t.regex((await r.store.listEvents({ pool: 'web' })).find((e) => e.direction === 'replace')?.detail ?? '', new RegExp(`retired ${sick!.id}`));
});

/** A healer on its own (no pool loop), with one healthy guest launched. */
async function healerAlone() {
  const policy = makePolicy();
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const healer = new Healer({ store, balancer, lifecycle, clock, telemetry });
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await lifecycle.launch(policy);
  return { policy, store, hv, healer, guest };
}

test('a sick guest is replaced once even when a stale tick asks again (fresh state is re-read before launching)', async (t) => {
  const { policy, store, hv, healer, guest } = await healerAlone();
  const sick = await store.saveGuest({ ...guest, state: 'sick', error: 'failed its health check' });
  const results: ReplaceResult[] = [];
  // Two ticks that both read the guest as sick, the second before the first replacement ended.
  healer.start(policy, sick, 1, (r) => results.push(r));
  healer.start(policy, sick, 1, (r) => results.push(r));
  await healer.idle();
  // And one that read it before the replacement retired it.
  healer.start(policy, sick, 1, (r) => results.push(r));
  await healer.idle();
  t.is(results.filter((r) => r.replacement).length, 1, 'one replacement');
  t.deepEqual(results.filter((r) => r.skipped).map((r) => r.skipped), [`${sick.id} is being (or was) replaced already`, `${sick.id} is being (or was) replaced already`]);
  t.is(hv.calls.filter((c) => c.method === 'clone').length, 2, 'the original guest and one replacement');
  t.is((await store.getGuest(sick.id))?.state, 'gone');
  t.is((await store.listEvents({ pool: 'web' })).filter((e) => e.direction === 'replace').length, 1, 'one replace event');
});

test('a stale request to replace a guest that is no longer sick does nothing', async (t) => {
  const { policy, store, hv, healer, guest } = await healerAlone();
  const results: ReplaceResult[] = [];
  healer.start(policy, { ...guest, state: 'sick' }, 1, (r) => results.push(r));
  await healer.idle();
  t.deepEqual(results.map((r) => r.skipped), [`${guest.id} is healthy now`]);
  t.is(hv.calls.filter((c) => c.method === 'clone').length, 1, 'nothing launched');
});
