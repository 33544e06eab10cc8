// `gridhost run`: the imperative shell that wires config, store, drivers, controller and API
// together, repairs what a previous run left half-done, and shuts down gracefully.
import type { AddressInfo } from 'node:net';
import type { RequestListener, Server } from 'node:http';
import type { GridhostConfig } from '../config/config-types.ts';
import { redactConfig } from '../config/load-config.ts';
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';
import { GridhostError, type ValidationIssue } from '../errors/errors.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { instrumentBalancer, instrumentHypervisor } from '../observability/instrument.ts';
import { LogMetricsTelemetry } from '../observability/log-metrics-telemetry.ts';
import { openStore } from '../store/open-store.ts';
import { HYPERVISOR_DRIVERS } from '../drivers/hypervisor/hypervisor-drivers.ts';
import { BALANCER_DRIVERS } from '../drivers/balancer/balancer-drivers.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import { BalancerSet } from '../drivers/balancer/balancer-set.ts';
import { CombinedSource } from '../drivers/metrics/combined-source.ts';
import { HttpLoadSource } from '../drivers/metrics/http-load-source.ts';
import { BalancerSource } from '../drivers/metrics/balancer-source.ts';
import { waitHealthy } from '../drivers/health/http-health.ts';
import { PrometheusQuery } from '../drivers/prometheus/prometheus-query.ts';
import { RealHookRunner } from '../drivers/hooks/hook-runner-real.ts';
import { canPause, type Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { FORWARDED_GUESTS, GuestRoutes } from '../drivers/guest-net/guest-net.ts';
import { watchPolicyDir } from '../policy/policy-watcher.ts';
import { logPolicyEvent } from '../policy/policy-log.ts';
import { systemClock } from '../controller/clock.ts';
import { GuestLifecycle } from '../controller/guest-lifecycle.ts';
import { Actuator } from '../controller/actuator.ts';
import { balancerVictimFacts } from '../controller/victim-facts.ts';
import { Orchestrator } from '../controller/orchestrator.ts';
import { Leadership } from '../controller/leadership.ts';
import { trackStoreHealth } from '../store/store-health.ts';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createApi } from '../api/server.ts';
import { weakTokenReason } from '../api/auth.ts';
import { Operator } from '../controller/operator.ts';
import { PolicyProblems } from '../controller/policy-problems.ts';
import { ProgressDisplay, ProgressTelemetry } from '../observability/progress-display.ts';
import { listenHttp, serverUrl } from '../api/listen.ts';


/** Runs until SIGINT/SIGTERM. Returns -1 so the CLI keeps the process alive. */
export async function runServer(config: GridhostConfig, _args: string[]): Promise<number> {
  checkWriteToken(config);
  // On a terminal, launches get a live progress line each below the log (not in JSON or a pipe).
  const display = process.stdout.isTTY === true && config.log.format !== 'json' ? new ProgressDisplay({ out: process.stdout }) : undefined;
  const logger = createLogger({ level: config.log.level, format: config.log.format, ...(display ? { stream: display.logStream() } : {}) });
  const metrics = createMetrics();
  const base = new LogMetricsTelemetry(logger, metrics);
  const telemetry = display ? new ProgressTelemetry(base, display) : base;
  logger.info('gridhost starting', { config: redactConfig(config) });

  const clock = systemClock;
  // Every store call goes through the health tracker: a failing store means degraded, no action.
  const tracked = trackStoreHealth(await openStore(config.store), () => clock.now(), (h) => {
    metrics.storeUp.set(h.up ? 1 : 0);
    if (h.up) logger.info('store writable again; pools act again', { event: 'store' });
    else logger.error('store cannot be written: no pool acts until it can', { event: 'store', error: h.reason });
  });
  const store = tracked.store;
  /** This process among the gridhost processes sharing the store: unique per start. */
  const holder = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  // The API's address is bound before anything is repaired or started: a taken port ends this
  // run before it has touched a guest. Until start-up is done every request gets a 503.
  let handler: RequestListener = startingHandler;
  const server: Server = await listenHttp((req, res) => handler(req, res), {
    listen: config.api.listen,
    setting: process.env.GRIDHOST_API_LISTEN?.trim() ? 'GRIDHOST_API_LISTEN, which overrides api.listen' : `api.listen in ${config.source}`,
    onClientError: (e) => logger.debug('api request rejected', { code: 'GH_BAD_REQUEST', error: e.message, errno: e.code }),
  }).catch(async (e: unknown) => {
    await store.close().catch(() => undefined);
    throw e;
  });
  // Kill tests only (test/e2e/kill-steps.test.ts): GRIDHOST_TEST_PAUSE_AT=<step> stops every
  // launch or retirement just before that step (or, for "spawned", between a local guest's spawn
  // and its record) and waits there for ever, so the test's SIGKILL lands exactly there.
  const pauseStep = process.env.GRIDHOST_TEST_PAUSE_AT?.trim() || undefined;
  const pause = (step: string, guest: string) => {
    logger.warn('test hook: paused before a step, waiting to be killed', { event: 'test-pause', step, guest });
    return new Promise<void>(() => undefined);
  };
  // The one step inside a driver (a local guest spawned, not yet recorded).
  const pauseAt = pauseStep === 'spawned' ? pause : undefined;
  // Every hypervisor driver the config allows; each guest goes to the one its policy names.
  const stacks = HYPERVISOR_DRIVERS.flatMap((d) => {
    const s = d.create(config, pauseAt ? { pauseAt } : {});
    return s ? [s] : [];
  });
  const hypervisors: Hypervisor[] = stacks.map((s) => instrumentHypervisor(s.hypervisor, metrics));
  const hostRoutes = stacks.flatMap((s) => s.routes);
  const routes = hostRoutes.length > 0 ? new GuestRoutes(hostRoutes) : undefined;
  const forwarded = routes !== undefined && !routes.allDirect;
  const hypervisorFor = (driver: string): Hypervisor => {
    const hv = hypervisors.find((h) => h.name === driver);
    if (!hv) throw new GridhostError('GH_TEMPLATE_INVALID', HYPERVISOR_DRIVERS.find((d) => d.keys.name === driver)?.unconfigured ?? `no hypervisor driver "${driver}" is configured`);
    return hv;
  };
  // Every balancer driver the config allows; each pool is served by the one its policy names.
  const balancerDrivers = new Map<string, Balancer>();
  for (const d of BALANCER_DRIVERS) {
    const b = d.create(config, { logger, routes });
    if (b) balancerDrivers.set(d.keys.name, instrumentBalancer(b, metrics));
  }
  const balancer = new BalancerSet(balancerDrivers, (name) => BALANCER_DRIVERS.find((d) => d.keys.name === name)?.unconfigured ?? `balancer.driver "${name}" is not known`);
  // Each guest's metrics path comes from its pool's policy in force.
  const metricsPathOf = (g: { pool: string }): string | undefined => orchestrator.status(g.pool)?.policy.guest.metricsPath;
  const sources: MetricsSource[] = stacks.flatMap((s) => s.sources);
  sources.push(new HttpLoadSource({ metricsPath: metricsPathOf, ...(forwarded ? { agentFor: (g) => routes.agentFor(g.host), timeoutMs: FORWARDED_GUESTS.checkTimeoutMs } : {}) }));
  // What the balancer sees of each guest (`source: balancer`): there even when a guest is too
  // busy to answer its own metrics endpoint.
  sources.push(new BalancerSource(balancer));
  const source = new CombinedSource(sources, logger);
  const lifecycle = new GuestLifecycle({
    store, balancer, clock, telemetry, hypervisorFor,
    routeVia: (g) => (routes?.connectFor(g.host) ? g.host : undefined),
    ...(pauseStep && pauseStep !== 'spawned' ? { pauseAt: (step: string, g: Guest) => (step === pauseStep ? pause(step, g.id) : Promise.resolve()) } : {}),
    // Command hooks run in the templates folder, where relative hook programs live.
    hooks: new RealHookRunner({ cwd: config.templatesDir }),
    waitHealthy: async (g, p, signal) => {
      const agent = routes?.agentFor(g.host);
      const url = `http://${g.address}${p.guest.healthPath}`;
      if (!agent) await waitHealthy(url, { timeoutMs: p.guest.bootTimeoutMs, intervalMs: 100, signal });
      else await waitHealthy(url, { timeoutMs: p.guest.bootTimeoutMs, intervalMs: FORWARDED_GUESTS.checkIntervalMs, checkTimeoutMs: FORWARDED_GUESTS.checkTimeoutMs, signal, agent });
      // The answer must be the guest's own, not another process's that holds its address.
      await hypervisorFor(g.driver).verifyAddress?.(g);
    },
  });
  // A guest on a dom0 that stopped answering counts as lost (placement skips that host too).
  const isLost = (g: Guest): boolean => g.host !== '' && hypervisors.find((h) => h.name === g.driver)?.hostUp?.(g.host) === false;
  // Scale-in retires outdated guests (made from another template or image) before current ones.
  const balancerFacts = balancerVictimFacts(balancer);
  const actuator = new Actuator(store, lifecycle, isLost, async (p, gs) => ({ ...(await balancerFacts(p, gs)), outdated: orchestrator.status(p.pool)?.rollout?.outdated ?? [] }));
  // Auto-heal asks each driver which of its serving guests are gone (killed from outside).
  const gone = async (guests: readonly Guest[]): Promise<Set<string>> => {
    const asked = hypervisors.filter((h) => h.gone !== undefined && guests.some((g) => g.driver === h.name));
    const results = await Promise.allSettled(asked.map((h) => h.gone!(guests.filter((g) => g.driver === h.name))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && results.every((r) => r.status === 'rejected')) throw failed.reason;
    return new Set(results.flatMap((r) => (r.status === 'fulfilled' ? [...r.value] : [])));
  };
  // Rules with source: prometheus ask this server (policies refuse them when it is not set).
  const poolQuery = config.prometheus ? new PrometheusQuery(config.prometheus) : undefined;
  const orchestrator: Orchestrator = new Orchestrator({
    store, balancer, metrics: source, ...(poolQuery ? { poolQuery } : {}), actuator, lifecycle, clock, telemetry, isLost, gone, hypervisors,
    reconcileEveryMs: config.cluster.reconcileIntervalMs,
    onLeading: (pool, leading) => metrics.poolLeader.set({ pool }, leading ? 1 : 0),
  });
  // The serving series come from the pools' leaders (a follower has no front end of them).
  metrics.serving.attach({ pools: () => orchestrator.ledPools(), serving: (pool) => balancer.serving(pool) });

  // Policies are known at once; a pool starts when this process takes its lease (Leadership
  // below), which also reconciles it first.
  // warm_pool needs a driver that can pause guests (Hypervisor.pause/unpause).
  const loadOpts = { hardMax: config.limits.hardMax, templatesDir: config.templatesDir, prometheus: config.prometheus !== undefined, unpausableDrivers: hypervisors.filter((h) => !canPause(h)).map((h) => h.name) };
  const problems = new PolicyProblems();
  const onInvalid = (file: string, issues: readonly ValidationIssue[]) => {
    metrics.policyLoadErrors.inc({ file });
    metrics.policyFileInvalid.set({ file }, 1);
    problems.invalid(file, issues, clock.now());
  };
  const watcher = watchPolicyDir(config.policiesDir, loadOpts, (ev) => {
    logPolicyEvent(logger, ev);
    if (ev.kind === 'invalid') return onInvalid(ev.file, ev.issues);
    const file = ev.kind === 'loaded' ? ev.policy.file : ev.file;
    metrics.policyFileInvalid.remove({ file });
    problems.clear(file);
    if (ev.kind === 'cleared') return;
    if (ev.kind === 'loaded') {
      orchestrator.apply(ev.policy).catch((e) => logger.error('could not apply policy', { pool: ev.policy.pool, error: String(e) }));
    } else if (ev.kind === 'removed') {
      orchestrator.unmanage(ev.pool).catch((e) => logger.error('could not unmanage pool', { pool: ev.pool, error: String(e) }));
    }
  });
  // Several processes may share the store: each pool is led by one of them (leases, fencing).
  let leadership: Leadership | undefined;
  const operator = new Operator({ store, loops: orchestrator, holder, lifecycle, clock, telemetry, hardMax: config.limits.hardMax });
  handler = createApi({
    store, orchestrator, registry: metrics.registry, clock, token: config.api.token, holder, operator, problems,
    health: () => {
      const h = tracked.health();
      const problem = h.up ? leadership?.storeError() : h.reason;
      return problem === undefined
        ? { status: 'ok' as const, holder, leads: orchestrator.ledPools() }
        : { status: 'degraded' as const, reason: `store unavailable since ${new Date(h.since).toISOString()}: ${problem}; no pool acts until it is back`, holder, leads: orchestrator.ledPools() };
    },
    // An unexpected error reaches the client as a bare GH_INTERNAL; the log keeps its cause (redacted).
    onError: (err, req) => logger.error('api error', { code: err.code, error: err.message, cause: err.cause, method: req.method, path: req.path }),
    // A client's mistake is the client's business: debug only, so no client can flood the log.
    // Who sent what, never with what credential.
    onSignal: (pool, accepted, duplicates) => logger.info('signal accepted', { pool, event: 'signal', signals: accepted.map((e) => ({ rule: e.rule, key: e.key, from: e.from })), duplicates }),
    onRejected: (err, req) => logger.debug('api request rejected', { code: err.code, status: err.status, error: err.message, method: req.method.slice(0, 16), path: req.originalUrl.slice(0, 200) }),
  });
  const addr = server.address() as AddressInfo;
  leadership = new Leadership({
    store, clock, telemetry, holder, api: `${addr.address}:${addr.port}`, apiUrl: serverUrl(server), leaseMs: config.cluster.leaseMs,
    pools: () => orchestrator.knownPools(),
    onAcquire: (pool, fence) => orchestrator.take(pool, fence),
    onLose: (pool, why) => orchestrator.release(pool, why),
  });
  // The first round takes this process's pools; the rounds go on (heartbeats, renewals) while they start.
  await leadership.start();
  logger.info('gridhost ready', { api: serverUrl(server), holder, pools: orchestrator.knownPools(), leads: orchestrator.ledPools() });

  // Samples are kept for replays (gridhost simulate) only as long as configured; finished
  // guests and scale events likewise, so the store (and each tick's listGuests) stays bounded.
  const prune = () => Promise.all([
    store.pruneSamples(clock.now() - config.limits.sampleRetentionMs)
      .then((n) => n > 0 && logger.debug('pruned samples', { count: n }))
      .catch((e) => logger.warn('could not prune samples', { error: String((e as Error).message) })),
    store.pruneHistory(clock.now() - config.limits.historyRetentionMs)
      .then((n) => (n.guests > 0 || n.events > 0) && logger.debug('pruned history', { guests: n.guests, events: n.events }))
      .catch((e) => logger.warn('could not prune history', { error: String((e as Error).message) })),
  ]);
  void prune();
  const pruneTimer = setInterval(prune, 15 * 60_000);
  pruneTimer.unref();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('gridhost stopping; guests keep running and are adopted at the next start', { signal });
    watcher.close();
    clearInterval(pruneTimer);
    await leadership?.stop();
    await orchestrator.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await balancer.close();
    await source.close();
    for (const hv of hypervisors) await hv.close();
    routes?.close();
    for (const s of stacks) await s.close();
    await store.close();
    logger.info('gridhost stopped');
    display?.close();
    // Let winston flush before exiting.
    setTimeout(() => process.exit(0), 50);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  return -1;
}

/**
 * The write API refuses to start with an empty, well-known or weak token (weakTokenReason): a
 * guessable token is worse than none, which leaves the write API disabled.
 */
function checkWriteToken(config: GridhostConfig): void {
  const fromEnv = process.env.GRIDHOST_API_TOKEN;
  if (fromEnv !== undefined && fromEnv.trim() === '' && config.api.token === undefined) {
    throw new GridhostError('GH_CONFIG_INVALID', `GRIDHOST_API_TOKEN ${weakTokenReason('')}; the write API refuses to start with it`);
  }
  if (config.api.token === undefined) return;
  const why = weakTokenReason(config.api.token);
  if (why === undefined) return;
  const where = fromEnv?.trim() ? 'GRIDHOST_API_TOKEN' : `api.token in ${config.source}`;
  throw new GridhostError('GH_CONFIG_INVALID', `${where} ${why}; the write API refuses to start with it`);
}

/** What the API answers while gridhost is still starting (repairing the last run's guests). */
const startingHandler: RequestListener = (_req, res) => {
  const body = JSON.stringify({ error: { code: 'GH_STARTING', message: new GridhostError('GH_STARTING').message } });
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};
