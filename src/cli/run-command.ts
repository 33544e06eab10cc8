// `gridhost run`: the imperative shell that wires config, store, drivers, controller and API
// together, repairs what a previous run left half-done, and shuts down gracefully.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { GridhostConfig } from '../config/config-types.ts';
import { redactConfig } from '../config/load-config.ts';
import type { Policy } from '../domain/policy.ts';
import { formatIssue, GridhostError, type ValidationIssue } from '../errors/errors.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { instrumentBalancer, instrumentHypervisor } from '../observability/instrument.ts';
import { LogMetricsTelemetry } from '../observability/log-metrics-telemetry.ts';
import { openStore } from '../store/open-store.ts';
import { LocalHypervisor } from '../drivers/hypervisor/local/local-hypervisor.ts';
import { BuiltinBalancer } from '../drivers/balancer/builtin/builtin-balancer.ts';
import { CombinedSource } from '../drivers/metrics/combined-source.ts';
import { HttpLoadSource } from '../drivers/metrics/http-load-source.ts';
import { ProcCpuSource } from '../drivers/metrics/proc-cpu-source.ts';
import { waitHealthy } from '../drivers/health/http-health.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { watchPolicyDir } from '../policy/policy-watcher.ts';
import { systemClock } from '../controller/clock.ts';
import { GuestLifecycle } from '../controller/guest-lifecycle.ts';
import { Actuator } from '../controller/actuator.ts';
import { Orchestrator } from '../controller/orchestrator.ts';
import { reconcile } from '../controller/reconciler.ts';
import { createApi } from '../api/server.ts';

function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

/** Runs until SIGINT/SIGTERM. Returns -1 so the CLI keeps the process alive. */
export async function runServer(config: GridhostConfig, _args: string[]): Promise<number> {
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const metrics = createMetrics();
  const telemetry = new LogMetricsTelemetry(logger, metrics);
  logger.info('gridhost starting', { config: redactConfig(config) });

  const store = await openStore(config.store);
  const clock = systemClock;
  const local = instrumentHypervisor(new LocalHypervisor({ guestsDir: config.guestsDir }), metrics);
  const hypervisors: Hypervisor[] = [local];
  const hypervisorFor = (driver: string): Hypervisor => {
    const hv = hypervisors.find((h) => h.name === driver);
    if (!hv) throw new GridhostError('GH_TEMPLATE_INVALID', `no hypervisor driver "${driver}" is configured`);
    return hv;
  };
  const balancer = instrumentBalancer(new BuiltinBalancer({
    healthIntervalMs: 250,
    onChange: (c) => logger.debug('balancer', { ...c }),
  }), metrics);
  // Each guest's metrics path comes from its pool's policy in force.
  const metricsPathOf = (g: { pool: string }): string | undefined => orchestrator.status(g.pool)?.policy.guest.metricsPath;
  const source = new CombinedSource([new ProcCpuSource(), new HttpLoadSource({ metricsPath: metricsPathOf })], logger);
  const lifecycle = new GuestLifecycle({
    store, balancer, clock, telemetry, hypervisorFor,
    waitHealthy: (g, p, signal) => waitHealthy(`http://${g.address}${p.guest.healthPath}`, { timeoutMs: p.guest.bootTimeoutMs, intervalMs: 100, signal }),
  });
  const actuator = new Actuator(store, lifecycle);
  const orchestrator: Orchestrator = new Orchestrator({ store, balancer, metrics: source, actuator, lifecycle, clock, telemetry });

  // The watcher delivers the folder's initial state before it returns; those events are
  // collected so that pools are prepared and reconciled before any loop starts.
  const loadOpts = { hardMax: config.limits.hardMax, templatesDir: config.templatesDir };
  let live = false;
  const initial: Policy[] = [];
  const onInvalid = (file: string, issues: readonly ValidationIssue[]) => {
    for (const issue of issues) logger.error('policy rejected', { file, issue: formatIssue(issue) });
    metrics.policyLoadErrors.inc({ file });
  };
  const watcher = watchPolicyDir(config.policiesDir, loadOpts, (ev) => {
    if (ev.kind === 'invalid') return onInvalid(ev.file, ev.issues);
    if (!live) {
      if (ev.kind === 'loaded') initial.push(ev.policy);
      return;
    }
    if (ev.kind === 'loaded') {
      orchestrator.apply(ev.policy).catch((e) => logger.error('could not apply policy', { pool: ev.policy.pool, error: String(e) }));
    } else if (ev.kind === 'removed') {
      orchestrator.unmanage(ev.pool).catch((e) => logger.error('could not unmanage pool', { pool: ev.pool, error: String(e) }));
    }
  });
  const policies = new Map<string, Policy>();
  for (const p of initial) {
    try {
      await orchestrator.preparePool(p);
      policies.set(p.pool, p);
    } catch (e) {
      logger.error('could not open the balancer front end; pool not managed', { pool: p.pool, error: (e as Error).message });
    }
  }
  const repaired = await reconcile({ store, hypervisors, balancer, lifecycle, clock, telemetry }, policies);
  logger.info('reconciled', { ...repaired });
  for (const p of policies.values()) await orchestrator.apply(p);
  live = true;

  const app = createApi({
    store, orchestrator, registry: metrics.registry, clock, token: config.api.token,
    onError: (err, req) => logger.error('api error', { code: err.code, error: err.message, method: req.method, path: req.path }),
  });
  const { host, port } = splitListen(config.api.listen);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', (e) => reject(new GridhostError('GH_CONFIG_INVALID', `cannot listen on ${config.api.listen}: ${(e as Error).message}`)));
  });
  const addr = server.address() as AddressInfo;
  logger.info('gridhost ready', { api: `http://${addr.address}:${addr.port}`, pools: orchestrator.managedPools() });

  // Samples are kept for replays (gridhost simulate) only as long as configured.
  const prune = () => store.pruneSamples(clock.now() - config.limits.sampleRetentionMs)
    .then((n) => n > 0 && logger.debug('pruned samples', { count: n }))
    .catch((e) => logger.warn('could not prune samples', { error: String((e as Error).message) }));
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
    await orchestrator.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await balancer.close();
    await source.close();
    for (const hv of hypervisors) await hv.close();
    await store.close();
    logger.info('gridhost stopped');
    // Let winston flush before exiting.
    setTimeout(() => process.exit(0), 50);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  return -1;
}
