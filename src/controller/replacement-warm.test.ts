// Replacements take warm guests (policy warm_pool) as scale-outs do: auto-heal's, a hand-retire's
// below the pool's floor and an evacuation's replace-then-retire, through the real pool loop on
// fakes and a manual clock; cold when none is warm or the warm one cannot be taken; never a warm
// guest on a closed (draining) host.
import test from 'ava';
import type { Guest, MetricValues } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { REPLACES_META } from '../decision/auto-heal.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { GridhostError } from '../errors/errors.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { Actuator } from './actuator.ts';
import { Healer } from './healer.ts';
import { PoolLoop } from './pool-loop.ts';
import { PoolEvacuation } from './evacuation.ts';
import { HostControl } from './host-control.ts';
import { Operator } from './operator.ts';
import { ReplacementLaunch } from './replacement-launch.ts';

const quiet: MetricsSource = {
  name: 'quiet',
  sample: async (guests: readonly Guest[]) => new Map<string, MetricValues>(guests.map((g) => [g.id, { rps: 5 }])),
  close: async () => undefined,
};

const who = { by: 'alice@ops', reason: 'kernel update' };

async function rig(opts: { min?: number; hosts?: string[]; warm?: number; holdWarm?: boolean } = {}) {
  const policy: Policy = makePolicy({
    min: opts.min ?? 2, max: 6,
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    rules: [{ name: 'never', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 1e9, for: 1, step: { kind: 'count', value: 1 } }],
    warmPool: { size: opts.warm ?? 1 },
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor({ hosts: opts.hosts ?? ['fakehost'] });
  const balancer = new FakeBalancer();
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const healer = new Healer({ store, balancer, lifecycle, clock, telemetry, gone: (gs) => hv.gone(gs) });
  const evacuation = new PoolEvacuation('web', { store, lifecycle, clock, telemetry, hypervisorFor: () => hv });
  const loop = new PoolLoop(policy, { store, metrics: quiet, actuator: new Actuator(store, lifecycle), clock, telemetry, healer, lifecycle, evacuation });
  const loops = { loop: (pool: string) => (pool === 'web' ? loop : undefined) };
  const op = new Operator({ store, loops, lifecycle, clock, telemetry, hardMax: 10 });
  const hosts = new HostControl({ store, clock, telemetry, hypervisors: [hv] });
  const release = opts.holdWarm ? hv.holdNext('pause') : undefined;
  const inState = async (state: Guest['state']) => store.listGuests({ pool: 'web', states: [state] });
  const sizes: number[] = [];
  const flush = async () => { for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r)); };
  // While a warm guest is held at its pause the loop is never idle (it waits for its refills).
  const step = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      await clock.advance(1000);
      if (release) await flush();
      else await settle(loop.idle());
      sizes.push((await inState('healthy')).length);
    }
  };
  /** Let the manual clock run until `p` settles (the lifecycle's polls sleep on it). */
  const settle = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const out = p.finally(() => (done = true));
    out.catch(() => undefined);
    for (let i = 0; i < 10_000 && !done; i++) await clock.advance(10);
    return out;
  };
  loop.start();
  await step(3);
  return { policy, clock, store, hv, balancer, telemetry, lifecycle, loop, op, hosts, step, inState, sizes, settle, release };
}

/** The guests a clone was made for (a cold launch or a warm guest being made). */
const cloned = (hv: FakeHypervisor) => new Set(hv.callsOf('clone'));

test('auto-heal takes a warm guest when one is ready and refills', async (t) => {
  const r = await rig();
  t.teardown(() => r.loop.stop());
  const [warm] = await r.inState('warm');
  t.truthy(warm, 'the warm pool was made');
  const [sick, other] = await r.inState('healthy');
  const clonesBefore = r.hv.callsOf('clone').length;
  r.balancer.fall('web', sick!.id, 'timeout after 2000 ms');
  await r.step(4);
  const healthy = await r.inState('healthy');
  t.deepEqual(healthy.map((g) => g.id).sort(), [other!.id, warm!.id].sort(), 'the warm guest replaced the sick one');
  const replacement = healthy.find((g) => g.id === warm!.id)!;
  t.is(replacement.meta[REPLACES_META], sick!.id, 'it names the guest it replaces, as a cold replacement does');
  t.deepEqual(r.hv.callsOf('unpause'), [warm!.id]);
  t.is((await r.store.getGuest(sick!.id))?.state, 'gone');
  const ev = (await r.store.listEvents({ pool: 'web' })).find((e) => e.direction === 'replace')!;
  t.regex(ev.detail ?? '', new RegExp(`launched ${warm!.id}; retired ${sick!.id}`));
  // Refilled in the background: one new guest was made, and it is the new warm guest.
  const made = r.hv.callsOf('clone').slice(clonesBefore);
  t.is(made.length, 1, `clones since: ${made.join(', ')}`);
  const refill = await r.inState('warm');
  t.deepEqual(refill.map((g) => g.id), made, 'the only guest made since is the warm pool\'s new one');
});

test('auto-heal launches cold when no warm guest is ready (the warm pool still making its guest)', async (t) => {
  const r = await rig({ holdWarm: true });
  t.teardown(async () => {
    r.release?.();
    await r.loop.stop();
  });
  const [warming] = await r.inState('warming');
  t.truthy(warming, 'the warm guest is held at its pause');
  await r.step(2);
  const [sick, other] = await r.inState('healthy');
  r.balancer.fall('web', sick!.id);
  await r.step(4);
  const healthy = await r.inState('healthy');
  t.is(healthy.length, 2);
  const replacement = healthy.find((g) => g.id !== other!.id)!;
  t.not(replacement.id, warming!.id);
  t.true(cloned(r.hv).has(replacement.id), 'cloned and booted: a cold launch');
  t.is(replacement.meta[REPLACES_META], sick!.id);
  t.deepEqual(r.hv.callsOf('unpause'), []);
  t.is((await r.store.getGuest(warming!.id))?.state, 'warming', 'the guest being made was left to the warm pool');
});

test('a warm guest that cannot be taken for a replacement is cleaned up and the replacement launched cold', async (t) => {
  const r = await rig();
  t.teardown(() => r.loop.stop());
  const [warm] = await r.inState('warm');
  const [sick, other] = await r.inState('healthy');
  r.hv.failNext('unpause', new GridhostError('GH_BOOT_FAILED', 'domain vanished'));
  r.balancer.fall('web', sick!.id);
  await r.step(4);
  t.is((await r.store.getGuest(warm!.id))?.state, 'failed', 'the warm guest was cleaned up');
  const healthy = await r.inState('healthy');
  t.is(healthy.length, 2, 'the pool keeps its size');
  const replacement = healthy.find((g) => g.id !== other!.id)!;
  t.true(cloned(r.hv).has(replacement.id));
  t.is(replacement.meta[REPLACES_META], sick!.id);
  t.is((await r.store.getGuest(sick!.id))?.state, 'gone');
  t.true(r.telemetry.lines.some((l) => l.level === 'warn' && /a warm guest could not be taken; launching a guest cold instead/.test(l.msg)));
});

test('a hand-retire below the pool\'s min takes a warm guest when one is ready', async (t) => {
  const r = await rig();
  t.teardown(() => r.loop.stop());
  const [warm] = await r.inState('warm');
  const [victim] = await r.inState('healthy');
  const res = await r.settle(r.op.retireGuest('web', victim!.id, who));
  t.is(res.replacement, warm!.id);
  t.deepEqual(r.hv.callsOf('unpause'), [warm!.id]);
  t.is((await r.store.getGuest(warm!.id))?.state, 'healthy');
  t.is((await r.store.getGuest(victim!.id))?.state, 'gone');
});

test('evacuation takes a warm guest on an open host for its replace-then-retire', async (t) => {
  const r = await rig({ min: 3, hosts: ['dom0-a', 'dom0-b'] });
  t.teardown(() => r.loop.stop());
  const [warm] = await r.inState('warm');
  const victim = (await r.inState('healthy')).find((g) => g.host !== warm!.host)!;
  await r.hosts.drain(victim.host, who);
  await r.step(8);
  const healthy = await r.inState('healthy');
  t.is(healthy.length, 3);
  t.true(healthy.some((g) => g.id === warm!.id), 'the warm guest serves');
  t.false(healthy.some((g) => g.host === victim.host));
  // Both guests on the drained host moved, oldest first: the first took the warm guest.
  const moves = (await r.store.listEvents({ pool: 'web' })).filter((e) => e.direction === 'replace' && e.outcome === 'done').map((e) => e.detail ?? '').reverse();
  t.regex(moves[0] ?? '', new RegExp(`replaced \\S+ on ${victim.host} by ${warm!.id} on ${warm!.host}`), moves.join(' | '));
  t.true(r.sizes.every((n) => n >= 3), `healthy guests per tick: ${r.sizes.join(' ')}`);
});

test('evacuation never takes a warm guest on the draining host', async (t) => {
  const r = await rig({ min: 3, hosts: ['dom0-a', 'dom0-b'] });
  t.teardown(() => r.loop.stop());
  const [warm] = await r.inState('warm');
  const victim = (await r.inState('healthy')).find((g) => g.host === warm!.host);
  t.truthy(victim, 'the warm guest shares its host with a serving guest (placement spreads four guests over two hosts)');
  await r.hosts.drain(warm!.host, who);
  await r.step(8);
  t.deepEqual(r.hv.callsOf('unpause'), [], 'no warm guest was taken');
  t.is((await r.store.getGuest(warm!.id))?.state, 'gone', 'the warm guest on the drained host is retired (the host must empty), never taken');
  const healthy = await r.inState('healthy');
  t.is(healthy.length, 3);
  t.false(healthy.some((g) => g.host === warm!.host), 'the victim moved off the host');
  const before = new Set([victim!.id, warm!.id]);
  const news = healthy.filter((g) => g.createdAt > victim!.createdAt && !before.has(g.id));
  t.is(news.length, 1, 'one replacement');
  t.true(cloned(r.hv).has(news[0]!.id), 'launched cold');
  t.not(news[0]!.host, warm!.host);
  t.regex((await r.store.listEvents({ pool: 'web' })).find((e) => e.direction === 'replace' && e.outcome === 'done')?.detail ?? '', new RegExp(`replaced ${victim!.id} on ${warm!.host} by ${news[0]!.id}`));
});

test('replacements never take a warm guest on a closed or avoided host, and two at once take two warm guests', async (t) => {
  const r = await rig({ warm: 0, hosts: ['dom0-a', 'dom0-b', 'dom0-c'] });
  // The launcher alone: a running loop would trim warm guests above its warm_pool size (0).
  await r.loop.stop();
  // Warm guests made by hand, one per host (placement spreads them).
  for (const id of ['web-wa', 'web-wb', 'web-wc']) await r.settle(r.lifecycle.makeWarm(r.policy, id));
  const hostOf = async (id: string) => (await r.store.getGuest(id))!.host;
  const byHost = new Map<string, string>();
  for (const id of ['web-wa', 'web-wb', 'web-wc']) byHost.set(await hostOf(id), id);
  t.is(byHost.size, 3);
  await r.hosts.drain('dom0-a', who);
  const launcher = new ReplacementLaunch({ store: r.store, lifecycle: r.lifecycle });
  const [one, two] = await r.settle(Promise.all([
    launcher.launch(r.policy, { avoidHosts: ['dom0-b'], why: 'test' }),
    launcher.launch(r.policy, { why: 'test' }),
  ]));
  t.is(one.guest.id, byHost.get('dom0-c')!, 'dom0-a is closed, dom0-b avoided: the one on dom0-c');
  t.is(two.guest.id, byHost.get('dom0-b')!, 'the other replacement at the same time takes the next warm guest, not the same one');
  t.true(one.timings.warm === true && two.timings.warm === true);
  const three = await r.settle(launcher.launch(r.policy, { why: 'test' }));
  t.not(three.timings.warm, true, 'the only warm guest left is on the closed host: launched cold');
  t.not(three.guest.host, 'dom0-a');
  t.is((await r.store.getGuest(byHost.get('dom0-a')!))?.state, 'warm', 'never taken');
});
