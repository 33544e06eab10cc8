// The REST API over real HTTP on 127.0.0.1:0, backed by a real Orchestrator and pool loop on a
// manual clock with the memory store, fake balancer and fake hypervisor. Read routes, stable
// JSON error codes, input checks, the write route's token, and the token never leaking.
import test from 'ava';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Guest, MetricValues } from '../../src/domain/types.ts';
import type { ScaleEvent } from '../../src/domain/types.ts';
import type { MetricsSource } from '../../src/drivers/metrics/metrics-source.ts';
import { createApi } from '../../src/api/server.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { FakeBalancer } from '../../src/drivers/balancer/fake-balancer.ts';
import { FakeHypervisor } from '../../src/drivers/hypervisor/fake-hypervisor.ts';
import { ManualClock } from '../../src/controller/clock.ts';
import { GuestLifecycle } from '../../src/controller/guest-lifecycle.ts';
import { Actuator } from '../../src/controller/actuator.ts';
import { Orchestrator } from '../../src/controller/orchestrator.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { LogMetricsTelemetry } from '../../src/observability/log-metrics-telemetry.ts';
import { NOW, campaign, makePolicy } from '../../src/decision/test-helpers.ts';
import type { GridhostError } from '../../src/errors/errors.ts';

const TOKEN = 'api-test-token-7c0ffee';
const WRONG = 'not-the-token-1234';

class FixedLoad implements MetricsSource {
  readonly name = 'fixed';
  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    return new Map(guests.map((g) => [g.id, { rps: 5 }]));
  }
  async close() {}
}

interface Rig {
  base: string;
  server: Server;
  store: MemoryStore;
  hv: FakeHypervisor;
  balancer: FakeBalancer;
  clock: ManualClock;
  orchestrator: Orchestrator;
  /** Everything the logger wrote and everything handed to onError. */
  logText: () => string;
  /** Every response body and header seen by `call`. */
  seen: string[];
  call: (path: string, init?: RequestInit) => Promise<{ status: number; type: string; body: any; text: string }>;
}

/**
 * Pool `web` is managed (policy min 2 / max 8, a schedule in force raising min to 4 and capping
 * max at 6); pool `old` is a pool whose policy was removed, with one guest still running.
 */
async function rig(t: { teardown(fn: () => Promise<void>): void }, token: string | undefined): Promise<Rig> {
  const clock = new ManualClock(NOW);
  const store = new MemoryStore();
  const hv = new FakeHypervisor({ name: 'local' });
  const balancer = new FakeBalancer();
  const logStream = new PassThrough();
  let logged = '';
  logStream.on('data', (d: Buffer) => (logged += d.toString()));
  const logger = createLogger({ level: 'debug', format: 'json', stream: logStream });
  const metrics = createMetrics();
  const telemetry = new LogMetricsTelemetry(logger, metrics);
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, pollMs: 10 });
  const actuator = new Actuator(store, lifecycle);
  const orchestrator = new Orchestrator({ store, balancer, metrics: new FixedLoad(), actuator, lifecycle, clock, telemetry });

  const policy = makePolicy({
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    schedules: [campaign({ min: 4, max: 6 })],
    rules: [{ name: 'busy', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 100, for: 2, step: { kind: 'count', value: 1 } }],
  });
  await orchestrator.apply(policy);
  await clock.advance(10); // first tick: below min 4 -> launch 4
  await orchestrator.loop('web')!.idle();
  await clock.advance(1000); // second tick: a sample of the 4 guests, hold
  await orchestrator.loop('web')!.idle();

  const old: Guest = { id: 'old-1', pool: 'old', state: 'healthy', driver: 'local', host: 'localhost', address: '127.0.0.1:19999', createdAt: NOW - 60_000, healthyAt: NOW - 50_000, updatedAt: NOW - 50_000, meta: {} };
  hv.seed({ id: 'old-1', pool: 'old', running: true, address: old.address, meta: {} });
  await store.putGuest(old);
  await store.upsertPool({ pool: 'old', file: '/policies/old.yaml', managed: false, desired: 1, updatedAt: NOW - 50_000 });
  await balancer.ensurePool('old', '127.0.0.1:0', '/healthz');
  await balancer.add('old', 'old-1', old.address!);

  const errors: string[] = [];
  const app = createApi({
    store, orchestrator, registry: metrics.registry, clock, token,
    onError: (err: GridhostError, req) => {
      errors.push(JSON.stringify({ code: err.code, message: err.message, details: err.details, cause: String(err.cause) }));
      logger.error('api error', { code: err.code, error: err.message, method: req.method, path: req.path });
    },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await orchestrator.stop();
  });
  const seen: string[] = [];
  return {
    base, server, store, hv, balancer, clock, orchestrator, seen,
    logText: () => logged + errors.join('\n'),
    async call(path, init) {
      const res = await fetch(`${base}${path}`, init);
      const text = await res.text();
      seen.push(JSON.stringify([...res.headers]), text);
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: res.status, type: res.headers.get('content-type') ?? '', body, text };
    },
  };
}

test('/healthz answers ok with the number of managed pools', async (t) => {
  const r = await rig(t, TOKEN);
  const res = await r.call('/healthz');
  t.is(res.status, 200);
  t.deepEqual(res.body, { status: 'ok', pools: 1 });
});

test('/metrics is Prometheus text with the pool gauges', async (t) => {
  const r = await rig(t, TOKEN);
  const res = await r.call('/metrics');
  t.is(res.status, 200);
  t.is(res.type, 'text/plain; version=0.0.4; charset=utf-8');
  t.regex(res.text, /^gridhost_guests\{pool="web",state="healthy"\} 4$/m);
  t.regex(res.text, /^gridhost_pool_min_guests\{pool="web"\} 4$/m);
  t.regex(res.text, /^gridhost_pool_max_guests\{pool="web"\} 6$/m);
});

test('/api/pools lists managed and unmanaged pools with their sizes and bounds', async (t) => {
  const r = await rig(t, TOKEN);
  const res = await r.call('/api/pools');
  t.is(res.status, 200);
  t.true(res.type.startsWith('application/json'));
  const [old, web] = res.body.pools;
  t.deepEqual(res.body.pools.map((p: any) => p.pool), ['old', 'web']);
  t.deepEqual(old, { pool: 'old', managed: false, file: '/policies/old.yaml', size: 1, desired: 1, guests: { healthy: 1 } });
  t.like(web, { pool: 'web', managed: true, file: '/test/web.yaml', size: 4, desired: 4, min: 4, max: 6, guests: { healthy: 4 } });
  t.like(web.lastDecision, { direction: 'hold', from: 4, to: 4, at: new Date(NOW + 1000).toISOString() });
});

test('/api/pools/:pool shows guests, samples, last decision, cooldowns, bounds in force, breaker and backends', async (t) => {
  const r = await rig(t, TOKEN);
  const res = await r.call('/api/pools/web');
  t.is(res.status, 200);
  const v = res.body;
  const stored = await r.store.listGuests({ pool: 'web' });
  t.is(stored.length, 4);
  t.deepEqual(v.guests.map((g: any) => [g.id, g.state, g.address, g.driver]), stored.map((g) => [g.id, 'healthy', g.address, 'local']));
  for (const g of v.guests) t.is(typeof Date.parse(g.createdAt), 'number');
  t.deepEqual(v.counts, { cloning: 0, booting: 0, healthy: 4, draining: 0, stopping: 0, gone: 0, failed: 0 });
  t.true(v.managed);
  t.deepEqual(v.bounds, { min: 4, max: 6, schedules: ['campaign'], policyMin: 2, policyMax: 8 });
  t.deepEqual(v.breaker, { mode: 'closed', consecutiveFailures: 0, remainingMs: 0 });
  t.like(v.lastDecision, { pool: 'web', direction: 'hold', from: 4, to: 4, at: NOW + 1000 });
  t.deepEqual(v.loop, { state: 'waiting', acting: false });
  // Cooldowns count from the scale-out recorded for the pool.
  const rec = await r.store.getPool('web');
  const now = r.clock.now();
  t.deepEqual(v.cooldownRemainingMs, { scaleOut: 30_000 - (now - rec!.lastScaleOutAt!), scaleIn: 60_000 - (now - rec!.lastScaleOutAt!) });
  t.true(v.cooldownRemainingMs.scaleOut > 0);
  // Samples: the second tick saw all four guests at rps 5.
  const last = v.samples[v.samples.length - 1];
  t.is(last.at, new Date(NOW + 1000).toISOString());
  t.deepEqual(Object.keys(last.guests).sort(), stored.map((g) => g.id).sort());
  for (const values of Object.values(last.guests)) t.deepEqual(values, { rps: 5 });
  t.deepEqual(v.backends.map((b: any) => [b.id, b.healthy, b.admin]).sort(), stored.map((g) => [g.id, true, 'ready']).sort());

  // An unmanaged pool has no loop: no bounds, breaker or decision, but its guests and backends.
  const old = (await r.call('/api/pools/old')).body;
  t.false(old.managed);
  t.deepEqual(old.guests.map((g: any) => g.id), ['old-1']);
  t.deepEqual(old.backends.map((b: any) => b.id), ['old-1']);
  for (const key of ['bounds', 'breaker', 'lastDecision', 'samples', 'cooldownRemainingMs', 'loop']) t.false(key in old, key);
});

test('unknown pools and routes are 404 JSON with GH_NOT_FOUND', async (t) => {
  const r = await rig(t, TOKEN);
  const cases: [string, RequestInit | undefined, string][] = [
    ['/api/pools/nope', undefined, 'no pool named nope'],
    ['/api/nothing', undefined, 'no route for GET /api/nothing'],
    ['/api/pools/web/extra', undefined, 'no route for GET /api/pools/web/extra'],
    ['/api/pools/web', { method: 'DELETE' }, 'no route for DELETE /api/pools/web'],
  ];
  for (const [path, init, message] of cases) {
    const res = await r.call(path, init);
    t.is(res.status, 404, path);
    t.true(res.type.startsWith('application/json'), path);
    t.deepEqual(res.body, { error: { code: 'GH_NOT_FOUND', message } }, path);
  }
});

test('bad pool names and limits are 400 JSON with GH_BAD_REQUEST', async (t) => {
  const r = await rig(t, TOKEN);
  const cases: [string, RegExp][] = [
    ['/api/pools/..%2Fx', /^invalid pool name/],
    ['/api/pools/..%2F..%2Fetc', /^invalid pool name/],
    ['/api/pools/a%3Brm', /^invalid pool name/],
    ['/api/pools/Web', /^invalid pool name/],
    [`/api/pools/${'a'.repeat(33)}`, /^invalid pool name/],
    ['/api/events?limit=0', /^limit must be an integer from 1 to 1000$/],
    ['/api/events?limit=abc', /^limit must be an integer from 1 to 1000$/],
    ['/api/events?limit=5000', /^limit must be an integer from 1 to 1000$/],
    ['/api/events?limit=1.5', /^limit must be an integer from 1 to 1000$/],
    ['/api/events?pool=..%2Fx', /^invalid pool name$/],
  ];
  for (const [path, message] of cases) {
    const res = await r.call(path);
    t.is(res.status, 400, path);
    t.is(res.body?.error?.code, 'GH_BAD_REQUEST', path);
    t.regex(res.body.error.message, message, path);
  }
});

test('/api/events lists newest first, filtered by pool, at most limit', async (t) => {
  const r = await rig(t, TOKEN);
  const ev = (pool: string, at: number, from: number, to: number): ScaleEvent => ({
    pool, at, direction: to > from ? 'scale-out' : 'scale-in', from, to, reason: `test ${from}->${to}`,
    inputs: { series: {}, min: 1, max: 8, schedules: [] }, outcome: 'done',
  });
  await r.store.appendEvent(ev('old', NOW + 5000, 1, 2));
  await r.store.appendEvent(ev('old', NOW + 6000, 2, 1));
  await r.store.appendEvent(ev('web', NOW + 7000, 4, 5));

  const all = (await r.call('/api/events')).body.events;
  const keys = (es: any[]) => es.map((e) => `${e.pool}@${e.at - NOW}:${e.from}->${e.to}`);
  // The rig's start-up launch of web (0 -> 4) happened at NOW.
  t.deepEqual(keys(all), ['web@7000:4->5', 'old@6000:2->1', 'old@5000:1->2', 'web@0:0->4']);
  t.deepEqual(keys((await r.call('/api/events?pool=old')).body.events), ['old@6000:2->1', 'old@5000:1->2']);
  t.deepEqual(keys((await r.call('/api/events?limit=2')).body.events), ['web@7000:4->5', 'old@6000:2->1']);
  t.deepEqual(keys((await r.call('/api/events?pool=web&limit=1')).body.events), ['web@7000:4->5']);
  t.deepEqual((await r.call('/api/events?pool=none')).body, { events: [] });
  t.is(all[3].outcome, 'done');
});

test('the retire route needs the configured bearer token', async (t) => {
  const r = await rig(t, TOKEN);
  const post = (headers?: Record<string, string>) => r.call('/api/pools/old/retire', { method: 'POST', headers });
  const refused: (Record<string, string> | undefined)[] = [
    undefined,
    { authorization: `Bearer ${WRONG}` },
    { authorization: TOKEN },
    { authorization: `Basic ${TOKEN}` },
    { authorization: `Bearer ${TOKEN}x` },
    { authorization: 'Bearer' },
  ];
  for (const headers of refused) {
    const res = await post(headers);
    t.is(res.status, 401, JSON.stringify(headers));
    t.deepEqual(res.body, { error: { code: 'GH_UNAUTHORIZED', message: 'a valid bearer token is required' } });
  }
  t.deepEqual(r.hv.callsOf('stop'), [], 'a refused request stopped nothing');
  t.is((await r.store.getGuest('old-1'))?.state, 'healthy');

  // A managed pool cannot be retired, even with the token.
  const managed = await r.call('/api/pools/web/retire', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(managed.status, 400);
  t.is(managed.body.error.code, 'GH_BAD_REQUEST');
  t.deepEqual(r.hv.callsOf('stop'), []);

  const ok = await post({ authorization: `Bearer ${TOKEN}` });
  t.is(ok.status, 200);
  t.deepEqual(ok.body, { retired: ['old-1'] });
  t.deepEqual(r.hv.callsOf('stop'), ['old-1']);
  t.deepEqual(r.hv.callsOf('deleteClone'), ['old-1']);
  t.is((await r.store.getGuest('old-1'))?.state, 'gone');
  t.false(r.balancer.hasPool('old'));

  const unknown = await r.call('/api/pools/nope/retire', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'GH_NOT_FOUND');

  // The token never appears in a response (body or header) or in the log.
  for (const text of [...r.seen, r.logText()]) {
    t.false(text.includes(TOKEN));
    t.false(text.includes(WRONG));
  }
});

test('with no token configured the write route is refused, and says how to enable it', async (t) => {
  const r = await rig(t, undefined);
  for (const headers of [undefined, { authorization: `Bearer ${TOKEN}` }, { authorization: 'Bearer ' }]) {
    const res = await r.call('/api/pools/old/retire', { method: 'POST', headers });
    t.is(res.status, 401);
    t.deepEqual(res.body, { error: { code: 'GH_UNAUTHORIZED', message: 'the write API is disabled: set api.token in gridhost.yaml or GRIDHOST_API_TOKEN' } });
  }
  t.deepEqual(r.hv.callsOf('stop'), []);
  t.is((await r.store.getGuest('old-1'))?.state, 'healthy');
});

test('an internal failure is a 500 JSON error that is logged without the request token', async (t) => {
  const r = await rig(t, TOKEN);
  r.store.failNext('listPools');
  const res = await r.call('/api/pools', { headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(res.status, 500);
  t.is(res.body.error.code, 'GH_STORE_FAILED');
  const log = r.logText();
  t.regex(log, /"msg":"api error".*"code":"GH_STORE_FAILED".*"path":"\/api\/pools"/);
  t.false(r.seen.join('\n').includes(TOKEN));
  t.false(log.includes(TOKEN), 'the token reached the log');
});
