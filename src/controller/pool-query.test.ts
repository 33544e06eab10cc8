// Rules with source: prometheus in the pool loop (fake PoolQuery, fakes around it, manual
// clock): the query's value drives the decision; a failed or empty query is a missing metric
// that follows on_missing, reported once per change.
import test from 'ava';
import type { Guest, MetricValues } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { FakePoolQuery } from '../drivers/prometheus/fake-pool-query.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';
import { Actuator } from './actuator.ts';
import { PoolLoop } from './pool-loop.ts';

/** Guests report nothing: only the query can move the pool. */
const silentGuests: MetricsSource = { name: 'silent', sample: async (gs: readonly Guest[]) => new Map<string, MetricValues>(gs.map((g) => [g.id, {}])), close: async () => {} };

const QUERY = 'sum(rate(guest_requests_total{pool="{{pool}}"}[30s]))';
const RENDERED = 'sum(rate(guest_requests_total{pool="web"}[30s]))';

function rig(overrides: Partial<Policy> = {}) {
  const policy = makePolicy({
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    rules: [{ name: 'rps', strategy: 'target-tracking', promql: QUERY, metric: 'prometheus:rps', aggregate: 'sum', target: 50, tolerance: 0.1, for: 1 }],
    ...overrides,
  });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const query = new FakePoolQuery();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const loop = new PoolLoop(policy, { store, metrics: silentGuests, poolQuery: query, actuator: new Actuator(store, lifecycle, () => false), clock, telemetry });
  return { policy, clock, store, balancer, telemetry, query, loop };
}

async function size(store: MemoryStore): Promise<number> {
  return (await store.listGuests({ pool: 'web', states: ['cloning', 'booting', 'healthy'] })).length;
}

async function ticks(r: ReturnType<typeof rig>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await r.clock.advance(1000);
    await r.loop.idle();
  }
}

test('the query, with {{pool}} substituted, is asked each tick and its value sizes the pool', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.query.values.set(RENDERED, 90); // 90 / 50 per guest -> 2 guests
  r.loop.start();
  await ticks(r, 3);
  t.is(await size(r.store), 2);
  r.query.values.set(RENDERED, 240); // -> ceil(4.8) = 5
  await ticks(r, 6);
  t.is(await size(r.store), 5);
  t.true(r.query.calls.length >= 9);
  t.true(r.query.calls.every((q) => q === RENDERED));
  const out = (await r.store.listEvents({ pool: 'web' })).find((e) => e.direction === 'scale-out' && e.to === 5);
  t.regex(out!.reason, /prometheus:rps sum 240/);
  const samples = await r.store.listSamples('web');
  t.deepEqual(samples.at(-1)!.pool, { 'prometheus:rps': 240 }, 'the value is recorded with the sample (replays read it)');
  await r.loop.stop();
});

test('a failed query is a missing metric: on_missing hold keeps the pool, one warning per change, one line when it answers again', async (t) => {
  const r = rig({ min: 3 });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.query.values.set(RENDERED, 150);
  r.loop.start();
  await ticks(r, 3);
  t.is(await size(r.store), 3);
  r.query.failWith = 'Prometheus query at http://127.0.0.1:9 failed: request failed: ECONNREFUSED';
  r.query.values.set(RENDERED, 400); // what it would say if it answered
  await ticks(r, 5);
  t.is(await size(r.store), 3, 'nothing is decided from a metric that is missing');
  const warns = r.telemetry.lines.filter((l) => l.level === 'warn' && l.msg.startsWith('prometheus query gave no value'));
  t.is(warns.length, 1);
  t.like(warns[0]!.fields, { pool: 'web', rule: 'rps', code: 'GH_QUERY_FAILED' });
  t.regex(String(warns[0]!.fields!.error), /ECONNREFUSED/);
  t.regex(warns[0]!.msg, /on_missing: hold/);
  t.is(r.loop.status().lastDecision?.action, 'hold');

  r.query.failWith = undefined;
  await ticks(r, 3);
  t.is(r.telemetry.lines.filter((l) => l.msg === 'prometheus query answers again').length, 1);
  t.is(await size(r.store), 8, 'answering again, the value applies (400 / 50)');
  await r.loop.stop();
});

test('an empty answer follows on_missing scale-out', async (t) => {
  const r = rig({ min: 2, onMissing: 'scale-out' });
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.loop.start(); // no value set: every query returns no series
  await ticks(r, 4);
  t.true(await size(r.store) > 2, 'missing data with on_missing scale-out grows the pool');
  const warns = r.telemetry.lines.filter((l) => l.level === 'warn' && l.msg.startsWith('prometheus query gave no value'));
  t.is(warns.length, 1);
  t.is(warns[0]!.fields!.error, 'the query returned no series');
  await r.loop.stop();
});
