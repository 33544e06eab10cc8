// Operator actions against a real pool loop on fakes (memory store, fake hypervisor and
// balancer, scripted load) and a manual clock: pause, resume, manual size, retire one guest,
// breaker reset; each recorded as an event with who and why; state kept in the store.
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
import { PoolLoop } from './pool-loop.ts';
import { Operator } from './operator.ts';

class Load implements MetricsSource {
  readonly name = 'load';
  total = 0;
  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    return new Map(guests.map((g) => [g.id, { rps: guests.length ? this.total / guests.length : 0 }]));
  }
  async close() {}
}

const ALICE = { by: 'alice@ops', reason: 'incident 42' };

async function setup(t: { teardown(fn: () => Promise<void>): void }, over: Partial<Policy> = {}) {
  const policy = makePolicy({
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 2000, whileBooting: 'add' },
    scaleIn: { cooldownMs: 2000, stabilizationMs: 0 },
    breaker: { failures: 2, openMs: 600_000 },
    rules: [{ name: 'rps', strategy: 'target-tracking', metric: 'rps', aggregate: 'mean', target: 10, tolerance: 0.1, for: 1 }],
    ...over,
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const telemetry = new RecordingTelemetry();
  const load = new Load();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const deps = { store, metrics: load, actuator: new Actuator(store, lifecycle), clock, telemetry, blockedBy: (pool: string) => balancer.blocked(pool) };
  let loop = new PoolLoop(policy, deps);
  const loops = { loop: (pool: string) => (pool === 'web' ? loop : undefined) };
  const op = new Operator({ store, loops, lifecycle, clock, telemetry, hardMax: 10 });
  const run = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      await clock.advance(1000);
      await loop.idle();
    }
  };
  /** Let the manual clock run until `p` settles (the loop's timers and the lifecycle's sleeps need it). */
  const settle = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const out = p.finally(() => (done = true));
    out.catch(() => undefined);
    for (let i = 0; i < 10_000 && !done; i++) await clock.advance(100);
    return out;
  };
  const size = async () => (await store.listGuests({ pool: 'web', states: ['cloning', 'booting', 'healthy'] })).length;
  loop.start();
  await run(3);
  t.teardown(() => loop.stop());
  return {
    policy, clock, store, hv, balancer, telemetry, load, lifecycle, op, run, size, settle,
    get loop() { return loop; },
    /** A new loop over the same store, as after a restart. */
    async restart(p: Policy = policy) {
      await loop.stop();
      loop = new PoolLoop(p, deps);
      loop.start();
    },
  };
}

test('a paused pool keeps its size under load and takes no automatic action; resume lets it grow', async (t) => {
  const r = await setup(t);
  t.is(await r.size(), 2);
  const res = await r.op.pause('web', ALICE);
  t.like(res, { pool: 'web', mode: 'paused', changed: true });
  t.like((await r.store.getPool('web'))!.control, { mode: 'paused', by: 'alice@ops', reason: 'incident 42' });
  r.load.total = 200; // rps 100 per guest against a target of 10
  await r.run(10);
  t.is(await r.size(), 2);
  const [held] = r.loop.journal.list({ limit: 1 });
  t.like(held!.hold, { cause: 'paused', by: 'alice@ops', reason: 'incident 42' });
  t.is(held!.decision.action, 'scale-out', 'the policy still says what it would do');
  t.is(held!.mode, 'paused');

  await r.op.resume('web', { by: 'bob', reason: 'over' });
  await r.run(3);
  t.true(await r.size() > 2);
  const ops = (await r.store.listEvents({ pool: 'web' })).filter((e) => e.action !== undefined);
  t.deepEqual(ops.map((e) => [e.action, e.by, e.outcome]), [['resume', 'bob', 'done'], ['pause', 'alice@ops', 'done']]);
  t.regex(ops[1]!.reason, /paused by alice@ops: incident 42/);
});

test('bounds and schedules do not move a paused pool', async (t) => {
  const r = await setup(t);
  await r.op.pause('web', ALICE);
  r.loop.updatePolicy({ ...r.policy, min: 4 });
  await r.run(5);
  t.is(await r.size(), 2);
  t.like(r.loop.journal.list({ limit: 1 })[0]!.hold, { cause: 'paused' });
});

test('pausing twice is recorded, keeps the first pause, and reports no change', async (t) => {
  const r = await setup(t);
  await r.op.pause('web', ALICE);
  const again = await r.op.pause('web', { by: 'bob', reason: '' });
  t.false(again.changed);
  t.like(again.control, { by: 'alice@ops' });
  t.like(again.event, { action: 'pause', by: 'bob', outcome: 'skipped' });
});

test('a manual size moves the pool there and holds it against the rules until resumed', async (t) => {
  const r = await setup(t);
  const res = await r.op.scale('web', 5, false, { by: 'carol', reason: 'campaign' });
  t.like(res, { mode: 'manual', control: { mode: 'manual', desired: 5, force: false, by: 'carol' } });
  await r.run(3);
  t.is(await r.size(), 5);
  const scaleOut = (await r.store.listEvents({ pool: 'web' })).find((e) => e.direction === 'scale-out' && e.from === 2);
  t.like(scaleOut, { to: 5, by: 'carol', outcome: 'done' });
  t.is(scaleOut!.action, undefined, 'the action is not the request: that is its own event');
  t.regex(scaleOut!.reason, /^scale-out 2 -> 5: set by hand to 5 by carol: campaign$/);
  // No load at all: the rule wants min, the pool stays at 5.
  await r.run(20);
  t.is(await r.size(), 5);
  t.like(r.loop.journal.list({ limit: 1 })[0]!.hold, { cause: 'manual', desired: 5 });
  await r.op.resume('web', ALICE);
  await r.run(10);
  t.is(await r.size(), 2);
});

test('a manual size outside the bounds in force is a 400 naming desired, unless forced within limits.hard_max', async (t) => {
  const r = await setup(t);
  for (const bad of [1, 9, 2.5, Number.NaN]) {
    const e = await t.throwsAsync(r.op.scale('web', bad, false, ALICE), { instanceOf: GridhostError });
    t.is(e!.code, 'GH_BAD_REQUEST');
    t.regex(e!.message, /^desired: must be an integer from 2 to 8, the bounds in force; "force": true allows 0 to 10$/);
    t.is(e!.details.field, 'desired');
  }
  const over = await t.throwsAsync(r.op.scale('web', 11, true, ALICE), { instanceOf: GridhostError });
  t.regex(over!.message, /from 0 to 10 \(limits.hard_max\) with force/);
  await r.op.scale('web', 10, true, ALICE);
  await r.run(3);
  t.is(await r.size(), 10);
  const es = await r.store.listEvents({ pool: 'web' });
  t.deepEqual(es.filter((e) => e.by === 'alice@ops').map((e) => [e.action ?? e.direction, e.to, e.outcome]), [['scale-out', 10, 'done'], ['scale', 10, 'done']], 'the request, then the action');
});

test('a pool that is paused or held by hand stays so after a restart (the control is in the store)', async (t) => {
  const r = await setup(t);
  await r.op.scale('web', 4, false, ALICE);
  await r.run(3);
  await r.restart();
  await r.run(10);
  t.is(await r.size(), 4);
  t.like(r.loop.journal.list({ limit: 1 })[0]!.hold, { cause: 'manual', desired: 4 });
});

test('unknown pools are 404; a pool without a policy is 409', async (t) => {
  const r = await setup(t);
  for (const call of [() => r.op.pause('nope', ALICE), () => r.op.scale('nope', 3, false, ALICE), () => r.op.retireGuest('nope', 'x', ALICE), () => r.op.resetBreaker('nope', ALICE)]) {
    t.is((await t.throwsAsync(call(), { instanceOf: GridhostError }))!.code, 'GH_NOT_FOUND');
  }
  await r.store.savePool({ pool: 'old', file: '/p/old.yaml', desired: 2, managed: false, updatedAt: 1 });
  t.is((await t.throwsAsync(r.op.pause('old', ALICE), { instanceOf: GridhostError }))!.code, 'GH_POOL_UNMANAGED');
});

test('a pool another process leads is GH_NOT_LEADER (421) naming its holder and API URL; one led by nobody this moment, known here, is GH_NOT_LEADER without a leader', async (t) => {
  const r = await setup(t);
  const other = await r.store.acquireLease('shared', 'host-b/42/abc', 60_000, 'http://10.0.0.2:8700');
  await r.store.savePool({ pool: 'shared', file: '/p/shared.yaml', desired: 2, managed: true, updatedAt: 1 });
  const policies = new Map([['shared', r.policy], ['free', r.policy]]);
  const op = new Operator({ store: r.store, loops: { loop: () => undefined, policy: (p) => policies.get(p) }, holder: 'host-a/7/def', lifecycle: r.lifecycle, clock: r.clock, telemetry: r.telemetry, hardMax: 10 });
  for (const call of [() => op.pause('shared', ALICE), () => op.resume('shared', ALICE), () => op.scale('shared', 3, false, ALICE), () => op.retireGuest('shared', 'shared-1', ALICE), () => op.resetBreaker('shared', ALICE)]) {
    const e = (await t.throwsAsync(call(), { instanceOf: GridhostError }))!;
    t.is(e.code, 'GH_NOT_LEADER');
    t.is(e.status, 421);
    t.deepEqual(e.details, { pool: 'shared', leader: { holder: 'host-b/42/abc', token: other!.token, api: 'http://10.0.0.2:8700' } });
    t.is(e.message, 'pool shared is led by gridhost process host-b/42/abc at http://10.0.0.2:8700: send the request there');
  }
  // A lease without a URL (taken by an older gridhost): the holder's heartbeat address, else the id alone.
  await r.store.acquireLease('old', 'host-c/1/x', 60_000);
  await r.store.savePool({ pool: 'old', file: '/p/old.yaml', desired: 2, managed: true, updatedAt: 1 });
  t.regex((await t.throwsAsync(op.pause('old', ALICE), { instanceOf: GridhostError }))!.message, /led by gridhost process host-c\/1\/x \(its API address is not known/);
  await r.store.heartbeat({ id: 'host-c/1/x', api: '10.0.0.3:8700', pools: ['old'] }, 60_000);
  t.like((await t.throwsAsync(op.pause('old', ALICE), { instanceOf: GridhostError }))!.details, { leader: { holder: 'host-c/1/x', api: 'http://10.0.0.3:8700' } });
  // Known here, nobody leads it now.
  await r.store.savePool({ pool: 'free', file: '/p/free.yaml', desired: 2, managed: true, updatedAt: 1 });
  const free = (await t.throwsAsync(op.pause('free', ALICE), { instanceOf: GridhostError }))!;
  t.is(free.code, 'GH_NOT_LEADER');
  t.deepEqual(free.details, { pool: 'free' });
});

test('retiring one guest of a pool above min drains and stops it without a replacement', async (t) => {
  const r = await setup(t);
  await r.op.scale('web', 3, false, ALICE);
  await r.run(3);
  await r.op.resume('web', ALICE);
  r.load.total = 30; // rps 10 per guest of 3: steady
  const victim = (await r.store.listGuests({ pool: 'web', states: ['healthy'] }))[0]!;
  const res = await r.settle(r.op.retireGuest('web', victim.id, { by: 'dave', reason: 'kernel oops' }));
  t.is(res.guest, victim.id);
  t.is(res.replacement, undefined);
  t.is((await r.store.getGuest(victim.id))!.state, 'gone');
  t.true(r.balancer.callsOf('setDrain').some((a) => a[1] === victim.id), 'drained first');
  t.like(res.event, { action: 'retire-guest', by: 'dave', direction: 'scale-in', from: 3, to: 2, outcome: 'done' });
  t.like((await r.store.listEvents({ pool: 'web' })).find((e) => e.action === 'retire-guest'), { outcome: 'done', detail: `retired ${victim.id}; not replaced: the pool stays within its bounds` });
});

test('retiring a guest of a pool at min launches its replacement first', async (t) => {
  const r = await setup(t);
  const [victim] = await r.store.listGuests({ pool: 'web', states: ['healthy'] });
  const res = await r.settle(r.op.retireGuest('web', victim!.id, ALICE));
  t.truthy(res.replacement);
  t.is((await r.store.getGuest(res.replacement!))!.state, 'healthy');
  t.is((await r.store.getGuest(victim!.id))!.state, 'gone');
  t.is(await r.size(), 2);
  const bootOfReplacement = r.hv.calls.findIndex((c) => c.method === 'boot' && c.id === res.replacement);
  const stopOfVictim = r.hv.calls.findIndex((c) => c.method === 'stop' && c.id === victim!.id);
  t.true(bootOfReplacement >= 0 && bootOfReplacement < stopOfVictim, 'the replacement booted before the guest was stopped');
  t.like(res.event, { direction: 'hold', from: 2, to: 2 });
});

test('two requests to retire the same guest share one retirement', async (t) => {
  const r = await setup(t);
  const [victim] = await r.store.listGuests({ pool: 'web', states: ['healthy'] });
  const [a, b] = await r.settle(Promise.all([r.op.retireGuest('web', victim!.id, ALICE), r.op.retireGuest('web', victim!.id, { by: 'bob', reason: '' })]));
  t.deepEqual(a, b);
  t.is(r.hv.calls.filter((c) => c.method === 'stop' && c.id === victim!.id).length, 1);
  t.is((await r.store.listEvents({ pool: 'web' })).filter((e) => e.action === 'retire-guest').length, 1);
});

test('retiring an unknown guest, one of another pool or a gone one is 404; one still launching is 409', async (t) => {
  const r = await setup(t);
  await t.throwsAsync(r.op.retireGuest('web', 'web-nope', ALICE), { instanceOf: GridhostError, message: /no live guest web-nope in pool web/ });
  const now = r.clock.now();
  await r.store.saveGuest({ id: 'api-1', pool: 'api', state: 'healthy', driver: 'fake', host: 'h', createdAt: now, updatedAt: now, meta: {} });
  t.is((await t.throwsAsync(r.op.retireGuest('web', 'api-1', ALICE), { instanceOf: GridhostError }))!.code, 'GH_NOT_FOUND');
  await r.store.saveGuest({ id: 'web-gone', pool: 'web', state: 'gone', driver: 'fake', host: 'h', createdAt: now, updatedAt: now, meta: {} });
  t.is((await t.throwsAsync(r.op.retireGuest('web', 'web-gone', ALICE), { instanceOf: GridhostError }))!.code, 'GH_NOT_FOUND');
  await r.store.saveGuest({ id: 'web-new', pool: 'web', state: 'booting', driver: 'fake', host: 'h', createdAt: now, updatedAt: now, meta: {} });
  const busy = await t.throwsAsync(r.op.retireGuest('web', 'web-new', ALICE), { instanceOf: GridhostError });
  t.is(busy!.code, 'GH_GUEST_BUSY');
  t.is(busy!.status, 409);
});

const BLOCK = new GridhostError('GH_HAPROXY_UNREACHABLE', 'pool web: HAProxy\'s stats socket /run/haproxy/admin.sock does not answer');

test('retiring a guest of a pool whose balancer cannot take guests is 409 GH_POOL_BLOCKED, and nothing is drained or stopped', async (t) => {
  const r = await setup(t);
  r.balancer.setBlocked('web', BLOCK);
  await r.run(2);
  const [victim] = await r.store.listGuests({ pool: 'web', states: ['healthy'] });
  const err = await t.throwsAsync(r.settle(r.op.retireGuest('web', victim!.id, ALICE)), { instanceOf: GridhostError });
  t.is(err!.code, 'GH_POOL_BLOCKED');
  t.is(err!.status, 409);
  t.regex(err!.message, /pool web is blocked since .*stats socket .* does not answer \(GH_HAPROXY_UNREACHABLE\)/);
  t.is((await r.store.getGuest(victim!.id))!.state, 'healthy');
  t.deepEqual(r.balancer.callsOf('setDrain'), []);
  t.deepEqual(r.hv.callsOf('stop'), []);
  t.is((await r.store.listEvents({ pool: 'web' })).filter((e) => e.action === 'retire-guest').length, 0);
});

test('a retirement waiting for the pool\'s action slot is answered GH_POOL_BLOCKED when the balancer becomes blocked', async (t) => {
  const r = await setup(t);
  const [victim] = await r.store.listGuests({ pool: 'web', states: ['healthy'] });
  // A scale-out whose boot is held keeps the slot busy, so the retirement waits.
  const boots = r.hv.callsOf('boot').length;
  const release = r.hv.holdNext('boot');
  r.load.total = 40;
  for (let i = 0; i < 50 && r.hv.callsOf('boot').length === boots; i++) await r.clock.advance(100);
  t.true(r.loop.status().acting, 'a scale-out is running');
  const retiring = r.op.retireGuest('web', victim!.id, ALICE);
  retiring.catch(() => undefined);
  for (let i = 0; i < 20; i++) await new Promise((res) => setImmediate(res));
  r.balancer.setBlocked('web', BLOCK);
  await r.clock.advance(1000);
  const err = await t.throwsAsync(retiring, { instanceOf: GridhostError });
  t.is(err!.code, 'GH_POOL_BLOCKED');
  release();
  r.balancer.setBlocked('web', undefined);
  await r.run(2);
  t.is((await r.store.getGuest(victim!.id))!.state, 'healthy', 'the refused retirement never ran');
});

test('an open breaker holds scale-outs; an operator\'s reset lets launches start again', async (t) => {
  const r = await setup(t);
  r.hv.failWhen((m) => (m === 'boot' ? new GridhostError('GH_OUT_OF_CAPACITY', 'no host has 2 GiB free') : undefined));
  r.load.total = 200;
  await r.run(10);
  t.is(r.loop.status().breaker.mode, 'open');
  t.like(r.loop.status().lastLaunchError, { code: 'GH_OUT_OF_CAPACITY' });
  // One step of 2 -> 8 (target tracking), all six launches failed.
  t.like(r.loop.journal.list({ limit: 1 })[0]!.hold, { cause: 'breaker', consecutiveFailures: 6 });
  const boots = r.hv.callsOf('boot').length;
  r.hv.clearFailures();
  const res = await r.op.resetBreaker('web', { by: 'erin', reason: 'added a host' });
  t.is(res.breakerWas, 'open');
  t.like(res.event, { action: 'breaker-reset', by: 'erin', outcome: 'done' });
  t.is(r.loop.status().breaker.mode, 'closed');
  t.is(r.loop.status().lastLaunchError, undefined);
  await r.run(3);
  t.true(r.hv.callsOf('boot').length > boots);
  t.true(await r.size() > 2);
  t.deepEqual(r.telemetry.breakers.map((b) => b.open), [true, false]);
});
