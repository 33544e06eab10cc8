// Host evacuation through the real pool loop against fakes on a manual clock: a drained host's
// guests are replaced one at a time on open hosts, the pool never below its size; a pool with
// nowhere else to go keeps its guests and says why; undrain stops it; live migration is used
// where the driver offers it, and a failed one falls back to replace-then-retire.
import test from 'ava';
import type { Guest, MetricValues } from '../domain/types.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { closedHostsOf, guestsToEvacuate } from '../decision/evacuation-plan.ts';
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
import { PoolEvacuation } from './evacuation.ts';
import { HostControl, hostStateOf } from './host-control.ts';

const quiet: MetricsSource = {
  name: 'quiet',
  sample: async (guests: readonly Guest[]) => new Map<string, MetricValues>(guests.map((g) => [g.id, { rps: 5 }])),
  close: async () => undefined,
};

const LIVE = ['cloning', 'booting', 'healthy', 'sick', 'draining', 'stopping'] as const;
const who = { by: 'alice@ops', reason: 'kernel update' };

async function rig(opts: { hosts?: string[]; max?: number; hv?: (fake: FakeHypervisor) => Hypervisor } = {}) {
  const policy = makePolicy({
    min: 3, max: opts.max ?? 5,
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    rules: [{ name: 'never', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 1e9, for: 1, step: { kind: 'count', value: 1 } }],
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const fake = new FakeHypervisor({ hosts: opts.hosts ?? ['dom0-a', 'dom0-b', 'dom0-c'] });
  const hv = opts.hv ? opts.hv(fake) : fake;
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const evacuation = new PoolEvacuation('web', { store, lifecycle, clock, telemetry, hypervisorFor: () => hv });
  const loop = new PoolLoop(policy, { store, metrics: quiet, actuator: new Actuator(store, lifecycle), clock, telemetry, evacuation });
  const hosts = new HostControl({ store, clock, telemetry, hypervisors: [hv] });
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const sizes: number[] = [];
  const live = async () => store.listGuests({ pool: 'web', states: LIVE });
  const step = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      await clock.advance(1000);
      await loop.idle();
      sizes.push((await live()).filter((g) => g.state === 'healthy').length);
    }
  };
  loop.start();
  await step(3);
  return { policy, clock, store, fake, telemetry, step, live, sizes, hosts, evacuation, stop: () => loop.stop() };
}

test('closed hosts and the guests to move off them: counted guests on closed hosts, oldest first', (t) => {
  const g = (id: string, host: string, createdAt: number, state: Guest['state'] = 'healthy'): Guest => ({ id, pool: 'web', state, driver: 'fake', host, createdAt, updatedAt: 0, meta: {} });
  const closed = closedHostsOf([{ host: 'a', drain: { by: 'x', reason: '', at: 1 } }, { host: 'b' }]);
  t.deepEqual([...closed], ['a']);
  const out = guestsToEvacuate([g('w-3', 'a', 3), g('w-1', 'a', 1), g('w-2', 'b', 2), g('w-4', 'a', 0, 'stopping')], closed);
  t.deepEqual(out.map((x) => x.id), ['w-1', 'w-3'], 'a guest already stopping is not moved again; one on an open host stays');
});

test('a host is open without a drain, draining while guests remain on it, drained once empty', (t) => {
  t.is(hostStateOf(undefined, 3), 'open');
  t.is(hostStateOf({ drain: { by: 'x', reason: '', at: 1 } }, 2), 'draining');
  t.is(hostStateOf({ drain: { by: 'x', reason: '', at: 1 } }, 0), 'drained');
});

test('drain-host moves each guest off the host one at a time, a new guest serving before the old one goes: the pool never drops below its size', async (t) => {
  const r = await rig();
  t.teardown(() => r.stop());
  const before = await r.live();
  t.is(before.length, 3);
  t.deepEqual(before.map((g) => g.host).sort(), ['dom0-a', 'dom0-b', 'dom0-c'], 'placement spread the pool over the three hosts');
  const change = await r.hosts.drain('dom0-a', who);
  t.true(change.changed);
  t.is(change.host.state, 'draining');
  await r.step(20);
  const after = await r.live();
  t.is(after.length, 3);
  t.true(after.every((g) => g.host !== 'dom0-a' && g.state === 'healthy'), JSON.stringify(after.map((g) => [g.id, g.host, g.state])));
  t.true(r.sizes.every((n) => n >= 3), `healthy guests per tick: ${r.sizes.join(' ')}`);
  t.is((await r.hosts.get('dom0-a')).state, 'drained');
  const moved = (await r.store.listEvents({ pool: 'web' })).filter((e) => e.direction === 'replace' && e.outcome === 'done');
  t.is(moved.length, 1);
  t.regex(moved[0]!.reason, /host dom0-a is drained \(kernel update, by alice@ops\)/);
  // Later launches keep off the closed host too.
  t.is((await r.hosts.drain('dom0-a', who)).changed, false, 'draining a drained host changes nothing');
});

test('a pool with nowhere else to go keeps its guests on the drained host and says why', async (t) => {
  const r = await rig({ hosts: ['dom0-a'] });
  t.teardown(() => r.stop());
  await r.hosts.drain('dom0-a', who);
  await r.step(10);
  const after = await r.live();
  t.is(after.filter((g) => g.state === 'healthy').length, 3, 'all three guests still serve');
  t.true(after.every((g) => g.host === 'dom0-a'));
  const failed = (await r.store.listEvents({ pool: 'web' })).filter((e) => e.direction === 'replace' && e.outcome === 'failed');
  t.true(failed.length >= 1);
  t.regex(failed[0]!.detail ?? '', /could not replace .*closed for placement.*it keeps serving on dom0-a/);
  t.deepEqual(r.evacuation.status().onClosedHosts.length, 3);
  t.is((await r.hosts.get('dom0-a')).state, 'draining');
});

test('undrain-host stops the evacuation: guests left on the host stay, and it takes new guests again', async (t) => {
  const r = await rig({ hosts: ['dom0-a'] });
  t.teardown(() => r.stop());
  await r.hosts.drain('dom0-a', who);
  await r.step(2);
  const opened = await r.hosts.undrain('dom0-a', who);
  t.true(opened.changed);
  t.is(opened.host.state, 'open');
  const events = (await r.store.listEvents({ pool: 'web' })).length;
  await r.step(10);
  t.is((await r.store.listEvents({ pool: 'web' })).length, events, 'nothing more is moved');
  t.deepEqual(r.evacuation.status().onClosedHosts, []);
});

test('drain-host of a host no driver places on is GH_HOST_UNKNOWN naming the known ones', async (t) => {
  const r = await rig();
  t.teardown(() => r.stop());
  const e = await t.throwsAsync(r.hosts.drain('dom0-z', who));
  t.is((e as GridhostError).code, 'GH_HOST_UNKNOWN');
  t.regex(e!.message, /known: dom0-a, dom0-b, dom0-c/);
});

test('where the driver migrates live, the guest moves with no new guest; a failed migration falls back to replace-then-retire', async (t) => {
  let fail = false;
  const r = await rig({
    hv: (fake) => Object.assign(Object.create(fake) as FakeHypervisor, {
      migrate: async (g: Guest, o: { avoidHosts: readonly string[] }) => {
        if (fail) throw new GridhostError('GH_MIGRATE_FAILED', 'xl migrate: target refused');
        const to = fake.hostNames().find((h) => !o.avoidHosts.includes(h) && h !== g.host)!;
        return { host: to, meta: { host: to } };
      },
    }),
  });
  t.teardown(() => r.stop());
  const ids = (await r.live()).map((g) => g.id).sort();
  await r.hosts.drain('dom0-a', who);
  await r.step(6);
  const after = await r.live();
  t.deepEqual(after.map((g) => g.id).sort(), ids, 'the same guests: moved, not replaced');
  t.true(after.every((g) => g.host !== 'dom0-a'));
  t.regex((await r.store.listEvents({ pool: 'web' })).find((e) => e.outcome === 'done')?.detail ?? '', /migrated .* live from dom0-a to dom0-/);

  fail = true;
  await r.hosts.drain('dom0-b', who);
  await r.step(10);
  const last = await r.live();
  t.true(last.every((g) => g.host === 'dom0-c'), JSON.stringify(last.map((g) => [g.id, g.host])));
  t.regex((await r.store.listEvents({ pool: 'web' })).find((e) => e.outcome === 'done')?.detail ?? '', /live migration failed \(xl migrate: target refused\); replaced/);
  t.true(r.sizes.every((n) => n >= 3), `healthy guests per tick: ${r.sizes.join(' ')}`);
});
