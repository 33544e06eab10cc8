// The API test rig: the REST API over real HTTP on 127.0.0.1:0 (bound by listenHttp, as
// gridhost run binds it), backed by a real Orchestrator and pool loop on a manual clock with the
// memory store, fake balancer and fake hypervisor.
import type { Server } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Guest, MetricValues } from '../../src/domain/types.ts';
import type { MetricsSource } from '../../src/drivers/metrics/metrics-source.ts';
import { createApi } from '../../src/api/server.ts';
import { listenHttp, serverUrl } from '../../src/api/listen.ts';
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
import type { Policy } from '../../src/domain/policy.ts';

export const TOKEN = 'api-test-token-7c0ffee';
export const WRONG = 'not-the-token-1234';

class FixedLoad implements MetricsSource {
  readonly name = 'fixed';
  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    return new Map(guests.map((g) => [g.id, { rps: 5 }]));
  }
  async close() {}
}

export interface Rig {
  base: string;
  server: Server;
  store: MemoryStore;
  hv: FakeHypervisor;
  balancer: FakeBalancer;
  clock: ManualClock;
  orchestrator: Orchestrator;
  /** Everything the logger wrote and everything handed to onError. */
  logText: () => string;
  /** The JSON log lines written so far. */
  logLines: () => Record<string, unknown>[];
  /** Every response body and header seen by `call`. */
  seen: string[];
  call: (path: string, init?: RequestInit) => Promise<{ status: number; type: string; body: any; text: string }>;
}

/**
 * Pool `web` is managed (policy min 2 / max 8, a schedule in force raising min to 4 and capping
 * max at 6); pool `old` is a pool whose policy was removed, with one guest still running.
 */
export async function rig(t: { teardown(fn: () => Promise<void>): void }, token: string | undefined, o: { policy?: Partial<Policy>; env?: Record<string, string> } = {}): Promise<Rig> {
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
  const orchestrator = new Orchestrator({ store, balancer, metrics: new FixedLoad(), actuator, lifecycle, clock, telemetry, hypervisors: [hv], leaderless: true });

  const policy = makePolicy({
    sampling: { intervalMs: 1000, windowMs: 60_000 },
    warmupMs: 0,
    schedules: [campaign({ min: 4, max: 6 })],
    rules: [{ name: 'busy', strategy: 'threshold', metric: 'rps', aggregate: 'mean', above: 100, for: 2, step: { kind: 'count', value: 1 } }],
    ...o.policy,
  });
  await orchestrator.apply(policy);
  await clock.advance(10); // first tick: below min 4 -> launch 4
  await orchestrator.loop('web')!.idle();
  await clock.advance(1000); // second tick: a sample of the 4 guests, hold
  await orchestrator.loop('web')!.idle();

  const old: Guest = { id: 'old-1', pool: 'old', state: 'healthy', driver: 'local', host: 'localhost', address: '127.0.0.1:19999', createdAt: NOW - 60_000, healthyAt: NOW - 50_000, updatedAt: NOW - 50_000, meta: {} };
  hv.seed({ id: 'old-1', pool: 'old', running: true, address: old.address, meta: {} });
  await store.saveGuest(old);
  await store.savePool({ pool: 'old', file: '/policies/old.yaml', managed: false, desired: 1, updatedAt: NOW - 50_000 });
  await balancer.ensurePool('old', '127.0.0.1:0', '/healthz');
  await balancer.add('old', 'old-1', old.address!);

  const errors: string[] = [];
  const app = createApi({
    store, orchestrator, registry: metrics.registry, clock, token,
    ...(o.env ? { env: (name: string) => o.env![name] } : {}),
    onSignal: (pool, accepted, duplicates) => logger.info('signal accepted', { pool, signals: accepted.map((e) => ({ rule: e.rule, key: e.key, from: e.from })), duplicates }),
    onError: (err: GridhostError, req) => {
      errors.push(JSON.stringify({ code: err.code, message: err.message, details: err.details, cause: String(err.cause) }));
      logger.error('api error', { code: err.code, error: err.message, method: req.method, path: req.path });
    },
    onRejected: (err: GridhostError, req) => logger.debug('api request rejected', { code: err.code, status: err.status, method: req.method, path: req.originalUrl }),
  });
  const server: Server = await listenHttp(app, {
    listen: '127.0.0.1:0', setting: 'test',
    onClientError: (e) => logger.debug('api request rejected', { code: 'GH_BAD_REQUEST', error: e.message }),
  });
  const base = serverUrl(server);
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await orchestrator.stop();
  });
  const seen: string[] = [];
  return {
    base, server, store, hv, balancer, clock, orchestrator, seen,
    logText: () => logged + errors.join('\n'),
    logLines: () => logged.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
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
