// `gridhost run`: the imperative shell that wires config, store, drivers, controller and API
// together, repairs what a previous run left half-done, and shuts down gracefully.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { GridhostConfig } from '../config/config-types.ts';
import { redactConfig } from '../config/load-config.ts';
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';
import { formatIssue, GridhostError, type ValidationIssue } from '../errors/errors.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { instrumentBalancer, instrumentHypervisor } from '../observability/instrument.ts';
import { LogMetricsTelemetry } from '../observability/log-metrics-telemetry.ts';
import { openStore } from '../store/open-store.ts';
import { LocalHypervisor } from '../drivers/hypervisor/local/local-hypervisor.ts';
import { BuiltinBalancer } from '../drivers/balancer/builtin/builtin-balancer.ts';
import { parseHostPort } from '../drivers/balancer/builtin/address.ts';
import { CombinedSource } from '../drivers/metrics/combined-source.ts';
import { HttpLoadSource } from '../drivers/metrics/http-load-source.ts';
import { ProcCpuSource } from '../drivers/metrics/proc-cpu-source.ts';
import { waitHealthy } from '../drivers/health/http-health.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { GuestRoutes } from '../drivers/guest-net/guest-net.ts';
import { createXenDrivers, type XenDrivers } from '../drivers/xen/create-xen-drivers.ts';
import { watchPolicyDir } from '../policy/policy-watcher.ts';
import { systemClock } from '../controller/clock.ts';
import { GuestLifecycle } from '../controller/guest-lifecycle.ts';
import { Actuator } from '../controller/actuator.ts';
import { Orchestrator } from '../controller/orchestrator.ts';
import { reconcile } from '../controller/reconciler.ts';
import { createApi } from '../api/server.ts';

/**
 * Pause between health checks of a guest reached through its dom0, and the longest check or
 * metrics read: a busy guest behind a busy dom0 answers slowly, and slow is not dead.
 */
const XEN_BALANCER_CHECK_MS = 2000;
const XEN_CHECK_TIMEOUT_MS = 10_000;
const XEN_SOCKETS_PER_GUEST = 4;

/**
 * The xen drivers for the configured dom0s, with timeouts for dom0s whose toolstack may be slow
 * (xl create runs the hotplug scripts; a loaded dom0 takes tens of seconds), and the routes to
 * their guests (`guest_network: ssh`, the default: over the dom0's SSH connection).
 */
function createXenStack(config: GridhostConfig): { drivers: XenDrivers; routes: GuestRoutes } {
  const drivers = createXenDrivers(config.dom0s, {
    // Proxied connections and health checks are channels too: leave room beside xl and xentop
    // (dropbear allows 100 channels per connection, OpenSSH 10 sessions plus forwards).
    ssh: { maxChannels: 64 },
    hypervisor: { commandTimeoutMs: 60_000, createTimeoutMs: 300_000 },
    xentop: { timeoutMs: 30_000 },
  });
  const routes = new GuestRoutes(config.dom0s.map((d) => ({
    name: d.name,
    via: d.guestNetwork === 'routed' ? undefined : (host: string, port: number) => drivers.hosts.ssh(d.name).forward(host, port),
  })));
  return { drivers, routes };
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
  // Xen (policies with `guest.driver: xen`): one kept SSH connection per dom0, shared by xl,
  // xentop and the way to the guests (guest-net) unless their network is routed.
  const xen = config.dom0s.length > 0 ? createXenStack(config) : undefined;
  if (xen) hypervisors.push(instrumentHypervisor(xen.drivers.hypervisor, metrics));
  const routes = xen?.routes;
  const forwarded = routes !== undefined && !routes.allDirect;
  const hypervisorFor = (driver: string): Hypervisor => {
    const hv = hypervisors.find((h) => h.name === driver);
    if (!hv) throw new GridhostError('GH_TEMPLATE_INVALID', `no hypervisor driver "${driver}" is configured`);
    return hv;
  };
  const balancer = instrumentBalancer(new BuiltinBalancer({
    // Checks of a guest behind its dom0 each cost an SSH channel and a shell in the guest.
    healthIntervalMs: forwarded ? XEN_BALANCER_CHECK_MS : 250,
    // Connections to a guest behind its dom0 are SSH channels: few per guest, so that health
    // checks, metrics reads and xl always find a free channel (more requests wait in the agent).
    ...(forwarded ? { healthTimeoutMs: XEN_CHECK_TIMEOUT_MS, fallCount: 3, maxSocketsPerBackend: XEN_SOCKETS_PER_GUEST } : {}),
    onChange: (c) => logger.debug('balancer', { ...c }),
    // Resolved once per backend (not per request): its dom0 comes from the guest's record.
    ...(forwarded ? { connectFor: async (b: { id: string }) => routes.connectFor((await store.getGuest(b.id))?.host) } : {}),
  }), metrics);
  // Each guest's metrics path comes from its pool's policy in force.
  const metricsPathOf = (g: { pool: string }): string | undefined => orchestrator.status(g.pool)?.policy.guest.metricsPath;
  const sources: MetricsSource[] = [new ProcCpuSource()];
  if (xen) sources.push(xen.drivers.xentop); // cpu of xen guests
  sources.push(new HttpLoadSource({ metricsPath: metricsPathOf, ...(forwarded ? { agentFor: (g) => routes.agentFor(g.host), timeoutMs: XEN_CHECK_TIMEOUT_MS } : {}) }));
  const source = new CombinedSource(sources, logger);
  const lifecycle = new GuestLifecycle({
    store, balancer, clock, telemetry, hypervisorFor,
    waitHealthy: (g, p, signal) => {
      const agent = routes?.agentFor(g.host);
      const url = `http://${g.address}${p.guest.healthPath}`;
      if (!agent) return waitHealthy(url, { timeoutMs: p.guest.bootTimeoutMs, intervalMs: 100, signal });
      return waitHealthy(url, { timeoutMs: p.guest.bootTimeoutMs, intervalMs: XEN_BALANCER_CHECK_MS, checkTimeoutMs: XEN_CHECK_TIMEOUT_MS, signal, agent });
    },
  });
  // A guest on a dom0 that stopped answering counts as lost (placement skips that host too).
  const isLost = (g: Guest): boolean => g.host !== '' && hypervisors.find((h) => h.name === g.driver)?.hostUp?.(g.host) === false;
  const actuator = new Actuator(store, lifecycle, isLost);
  const orchestrator: Orchestrator = new Orchestrator({ store, balancer, metrics: source, actuator, lifecycle, clock, telemetry, isLost });

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
    // An unexpected error reaches the client as a bare GH_INTERNAL; the log keeps its cause (redacted).
    onError: (err, req) => logger.error('api error', { code: err.code, error: err.message, cause: err.cause, method: req.method, path: req.path }),
  });
  const listenAt = parseHostPort(config.api.listen);
  if (!listenAt) throw new GridhostError('GH_CONFIG_INVALID', `api.listen ${JSON.stringify(config.api.listen)} is not host:port, e.g. 127.0.0.1:8700`);
  const { host, port } = listenAt;
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', (e) => reject(new GridhostError('GH_CONFIG_INVALID', `cannot listen on ${config.api.listen}: ${(e as Error).message}`)));
  });
  const addr = server.address() as AddressInfo;
  logger.info('gridhost ready', { api: `http://${addr.address}:${addr.port}`, pools: orchestrator.managedPools() });

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
    await orchestrator.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await balancer.close();
    await source.close();
    for (const hv of hypervisors) await hv.close();
    routes?.close();
    await xen?.drivers.close();
    await store.close();
    logger.info('gridhost stopped');
    // Let winston flush before exiting.
    setTimeout(() => process.exit(0), 50);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  return -1;
}
