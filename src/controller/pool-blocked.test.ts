// A pool whose balancer cannot register guests (Balancer.blocked) launches none and retires
// none, says so once (telemetry, status, one skipped event per block), and acts again when
// the block lifts.
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
import { PoolLoop } from './pool-loop.ts';

class Load implements MetricsSource {
  readonly name = 'load';
  rps = 0;
  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    return new Map(guests.map((g) => [g.id, { rps: this.rps }]));
  }
  async close() {}
}

function rig() {
  const policy = makePolicy({
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    rules: [{ name: 'quiet', strategy: 'threshold', metric: 'rps', aggregate: 'mean', below: 2, for: 1, step: { kind: 'count', value: -1 } }],
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const load = new Load();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const loop = new PoolLoop(policy, { store, metrics: load, actuator: new Actuator(store, lifecycle), clock, telemetry, blockedBy: (p) => balancer.blocked(p) });
  return { policy, clock, store, hv, balancer, telemetry, load, loop };
}

const BLOCK = new GridhostError('GH_HAPROXY_UNKNOWN_BACKEND', 'pool web: HAProxy has no backend "web"; add `backend web` to haproxy.cfg');

async function ticks(r: ReturnType<typeof rig>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
}

test('a blocked pool launches no guest, not even to reach min; once unblocked it is brought to min', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.balancer.setBlocked('web', BLOCK);
  r.loop.start();
  await ticks(r, 5);
  t.is(r.hv.callsOf('clone').length, 0, 'nothing cloned while blocked');
  t.like(r.loop.status().blocked, { code: 'GH_HAPROXY_UNKNOWN_BACKEND', message: BLOCK.message });
  t.deepEqual(r.telemetry.blocks, [{ pool: 'web', code: 'GH_HAPROXY_UNKNOWN_BACKEND' }], 'reported once, not every tick');
  const skipped = r.telemetry.scaleEvents.filter((e) => e.outcome === 'skipped');
  t.is(skipped.length, 1, 'one skipped event per block');
  t.regex(skipped[0]!.detail!, /^pool blocked: pool web: HAProxy has no backend "web"/);

  r.balancer.setBlocked('web');
  await ticks(r, 2);
  t.is(r.loop.status().blocked, undefined);
  t.deepEqual(r.telemetry.blocks.at(-1), { pool: 'web', code: undefined });
  t.is((await r.store.listGuests({ pool: 'web', states: ['healthy'] })).length, 2);
  await r.loop.stop();
});

test('a blocked pool retires no guest: the balancer may still send it traffic gridhost could not stop', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start();
  r.load.rps = 100;
  await ticks(r, 2);
  const live = () => r.store.listGuests({ pool: 'web', states: ['healthy'] });
  t.is((await live()).length, 2);
  await r.store.savePool({ ...(await r.store.getPool('web'))!, desired: 2 });
  // Grow to 3 by hand-made guest so that scale-in (min 2) has something to retire.
  await r.store.saveGuest({ id: 'web-extra', pool: 'web', state: 'healthy', driver: 'fake', host: 'fakehost', address: '127.0.0.1:1', createdAt: r.clock.now(), updatedAt: r.clock.now(), healthyAt: r.clock.now(), meta: {} });
  await r.balancer.add('web', 'web-extra', '127.0.0.1:1');
  r.balancer.setBlocked('web', BLOCK);
  r.load.rps = 0;
  await ticks(r, 4);
  t.is((await live()).length, 3, 'nothing retired while blocked');
  t.is(r.balancer.callsOf('setDrain').length, 0);
  r.balancer.setBlocked('web');
  await ticks(r, 3);
  t.is((await live()).length, 2, 'scale-in resumes once unblocked');
  await r.loop.stop();
});
