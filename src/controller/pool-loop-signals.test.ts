// Signals live in the pool's record (signal-book.ts), not in the loop: a signal is served once
// by whichever loop leads the pool, a restarted loop does not serve it again, and a signal
// another process accepts while the leader writes its tick is kept.
import test from 'ava';
import type { Guest, MetricValues } from '../domain/types.ts';
import type { SignalRule } from '../domain/policy.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { lastServedAt, pendingFor } from '../decision/signal-book.ts';
import { MemoryStore } from '../store/memory-store.ts';
import type { Fence, PoolRecord } from '../store/store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { Actuator } from './actuator.ts';
import { PoolLoop } from './pool-loop.ts';
import { takeSignals } from './signal-intake.ts';

const burst: SignalRule = { name: 'burst', strategy: 'signal', step: { kind: 'count', value: 2 }, cooldownMs: 60_000, expiresMs: 600_000 };

class Quiet implements MetricsSource {
  readonly name = 'quiet';
  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    return new Map(guests.map((g) => [g.id, { rps: 1 }]));
  }
  async close() {}
}

/** A store in which, once, another process accepts a signal just before the loop's write lands. */
class RacingStore extends MemoryStore {
  race: (() => Promise<void>) | undefined;
  override async savePool(p: PoolRecord, fence?: Fence): Promise<PoolRecord> {
    const race = this.race;
    if (race && p.signals?.entries.some((e) => e.servedAt !== undefined)) {
      this.race = undefined;
      await race();
    }
    return super.savePool(p, fence);
  }
}

function rig() {
  const policy = makePolicy({ sampling: { intervalMs: 1000, windowMs: 60_000 }, warmupMs: 0, scaleOut: { cooldownMs: 2000, whileBooting: 'hold' }, signalRules: [burst] });
  const clock = new ManualClock(1_000_000);
  const store = new RacingStore(() => clock.now());
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const actuator = new Actuator(store, lifecycle);
  const newLoop = () => new PoolLoop(policy, { store, metrics: new Quiet(), actuator, clock, telemetry });
  const counted = async () => (await store.listGuests({ pool: 'web', states: ['cloning', 'booting', 'healthy'] })).length;
  return { policy, clock, store, balancer, telemetry, newLoop, counted };
}

async function ticks(r: ReturnType<typeof rig>, loop: PoolLoop, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await r.clock.advance(1000);
    await loop.idle();
  }
}

const alert = (fp: string) => ({ key: `alert:${fp}:2026-01-12T11:58:00Z`, rule: 'burst', from: `alert HighLatency (fingerprint ${fp})` });

test('a signal is served once: a restarted loop on the same store does not act on it again, and a redelivery is a duplicate', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  let loop = r.newLoop();
  loop.start();
  await ticks(r, loop, 5);
  t.is(await r.counted(), 2);
  t.deepEqual((await takeSignals(r.store, r.policy, [alert('fp1')], r.clock.now())).accepted.length, 1);
  await ticks(r, loop, 3);
  t.is(await r.counted(), 4);
  await loop.stop();
  // A restart: a new loop, the same store.
  loop = r.newLoop();
  loop.start();
  await ticks(r, loop, 120);
  t.is(await r.counted(), 4, 'not served again after the restart');
  const again = await takeSignals(r.store, r.policy, [alert('fp1')], r.clock.now());
  t.deepEqual(again.accepted, []);
  t.is(again.duplicates.length, 1);
  await ticks(r, loop, 5);
  t.is(await r.counted(), 4);
  await loop.stop();
});

test('a signal accepted while the leader writes the tick that serves another is kept, and served after the rule cooldown', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const loop = r.newLoop();
  loop.start();
  await ticks(r, loop, 5);
  await takeSignals(r.store, r.policy, [alert('fp1')], r.clock.now());
  r.store.race = async () => {
    await takeSignals(r.store, r.policy, [alert('fp2')], r.clock.now());
  };
  await ticks(r, loop, 3);
  t.true(r.store.race === undefined, 'the race ran');
  t.is(await r.counted(), 4);
  const rec = (await r.store.getPool('web'))!;
  t.deepEqual(pendingFor(rec.signals, burst, r.clock.now()).map((e) => e.key), ['alert:fp2:2026-01-12T11:58:00Z'], 'the signal accepted meanwhile is still there, pending');
  t.true(lastServedAt(rec.signals, 'burst')! > 1_000_000);
  await ticks(r, loop, 30);
  t.is(await r.counted(), 4, 'the rule cooldown (60s) holds it');
  await ticks(r, loop, 40);
  t.is(await r.counted(), 6, 'served after the cooldown');
  await loop.stop();
});

test('a signal the pool cannot serve (paused) expires, said once as a warning, and is not served after resume', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const loop = r.newLoop();
  loop.start();
  await ticks(r, loop, 5);
  const rec = (await r.store.getPool('web'))!;
  await r.store.savePool({ ...rec, control: { mode: 'paused', by: 'ops', reason: 'incident', at: r.clock.now() } });
  await takeSignals(r.store, r.policy, [alert('fp1')], r.clock.now());
  await ticks(r, loop, 605);
  t.is(await r.counted(), 2);
  const warned = r.telemetry.lines.filter((l) => l.msg === 'signal expired without being served');
  t.is(warned.length, 1);
  t.like(warned[0]!.fields, { pool: 'web', rule: 'burst', key: 'alert:fp1:2026-01-12T11:58:00Z' });
  const { control: _c, ...resumed } = (await r.store.getPool('web'))!;
  await r.store.savePool(resumed);
  await ticks(r, loop, 10);
  t.is(await r.counted(), 2, 'an expired signal is not served');
  await loop.stop();
});
