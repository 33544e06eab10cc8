// The embedded default balancer: an HTTP reverse proxy on node:http, one front end per pool.
// Routing, streaming and retries live in proxy.ts; health checks in health-check.ts.
// Error contract: see ../balancer.ts. Pool-level mistakes (unknown pool, bad address, a listen
// address in use) are GH_BALANCER_FAILED with a message that says what to fix.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthCheckSettings } from '../../../domain/policy.ts';
import { GridhostError } from '../../../errors/errors.ts';
import { createConnectionVia, type GuestConnect } from '../../guest-net/guest-net.ts';
import type { Balancer, BalancerChange, BackendStatus, PoolServing, PoolSettings } from '../balancer.ts';
import { formatHostPort, parseHostPort } from './address.ts';
import { applyCheck, probe } from './health-check.ts';
import { reassessPool, servingSnapshot, type ServingPool } from './pool-serving.ts';
import { handleRequest, releaseIfIdle, wireError, type ProxyBackend } from './proxy.ts';
import { ServingCounter } from './serving-counter.ts';

export type { BalancerChange, BalancerChangeKind } from '../balancer.ts';

export interface BuiltinBalancerOptions {
  /** Time between the starts of two health checks of a backend (a check still running when
   *  the next is due delays it). Default 1000. */
  healthIntervalMs?: number;
  /** A check that has not answered by then fails. Default 2000 (generous: a busy guest is not a dead one). */
  healthTimeoutMs?: number;
  /** A backend that has not begun its answer by then: 504 to the client. Default 60000. */
  responseTimeoutMs?: number;
  /** Consecutive passing checks that make a backend healthy. Default 2. */
  riseCount?: number;
  /** Consecutive failing checks that make a backend unhealthy. Default 2. */
  fallCount?: number;
  /** Fail open when fewer than this percentage of a pool's proven backends pass their checks
   *  (panic.ts); 0 never fails open. Default 50, as Envoy's healthy_panic_threshold. */
  panicThresholdPercent?: number;
  /** Concurrent connections to one backend. Default 128. */
  maxSocketsPerBackend?: number;
  /** Idle keep-alive sockets to a backend are closed after this (below node's 5 s server default). Default 4000. */
  idleSocketMs?: number;
  /** removePool()/close() wait this long for requests in flight before cutting them. Default 5000. */
  closeTimeoutMs?: number;
  /** State changes (for logs). Never called per request. */
  onChange?: (change: BalancerChange) => void;
  /**
   * How to open connections through the host an add() names as `via` (a guest behind its dom0's
   * SSH: drivers/guest-net). Asked once per add() that names one; undefined (or no `via`) =
   * connect directly. Both the proxied requests and the health checks of that backend use it.
   */
  connectVia?: (host: string) => GuestConnect | undefined;
}

interface PoolEntry extends ServingPool {
  listen: string;
  healthPath: string;
  check: HealthCheckSettings;
  host: string;
  server: http.Server;
  byId: Map<string, ProxyBackend>;
}

function failed(message: string, details: Record<string, unknown>, cause?: unknown): GridhostError {
  return new GridhostError('GH_BALANCER_FAILED', message, details, cause === undefined ? undefined : { cause });
}

export class BuiltinBalancer implements Balancer {
  readonly name = 'builtin';
  private readonly pools = new Map<string, PoolEntry>();
  /** Serialises ensurePool/removePool per pool so concurrent calls never bind twice. */
  private readonly poolOps = new Map<string, Promise<unknown>>();
  private readonly interval: number;
  private readonly timeout: number;
  private readonly responseTimeoutMs: number;
  private readonly rise: number;
  private readonly fall: number;
  private readonly panicThresholdPercent: number;
  private readonly maxSockets: number;
  private readonly idleSocketMs: number;
  private readonly closeTimeoutMs: number;
  private readonly onChange: ((c: BalancerChange) => void) | undefined;
  private readonly connectVia: BuiltinBalancerOptions['connectVia'];

  constructor(opts: BuiltinBalancerOptions = {}) {
    this.interval = opts.healthIntervalMs ?? 1000;
    this.timeout = opts.healthTimeoutMs ?? 2000;
    this.responseTimeoutMs = opts.responseTimeoutMs ?? 60_000;
    this.rise = Math.max(1, opts.riseCount ?? 2);
    this.fall = Math.max(1, opts.fallCount ?? 2);
    this.panicThresholdPercent = opts.panicThresholdPercent ?? 50;
    this.maxSockets = opts.maxSocketsPerBackend ?? 128;
    this.idleSocketMs = opts.idleSocketMs ?? 4000;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    this.onChange = opts.onChange;
    this.connectVia = opts.connectVia;
  }

  ensurePool(pool: string, listen: string, healthPath: string, settings: PoolSettings = {}): Promise<void> {
    const c = { intervalMs: this.interval, timeoutMs: this.timeout, rise: this.rise, fall: this.fall, ...definedOnly(settings.check ?? {}) };
    const responseMs = settings.responseTimeoutMs ?? this.responseTimeoutMs;
    const panic = settings.panicThresholdPercent ?? this.panicThresholdPercent;
    return this.serialise(pool, () => this.doEnsurePool(pool, listen, healthPath, c, responseMs, panic));
  }

  removePool(pool: string): Promise<void> {
    return this.serialise(pool, () => this.doRemovePool(pool));
  }

  /** The bound `host:port` of a pool's front end (the real port when listen asked for port 0). */
  frontendAddress(pool: string): string {
    const p = this.pool(pool);
    return formatHostPort(p.host, (p.server.address() as AddressInfo).port);
  }

  async add(pool: string, id: string, address: string, via?: string): Promise<void> {
    const p = this.pool(pool);
    const hp = parseHostPort(address);
    if (hp === undefined) {
      throw failed(`backend ${id} of pool ${pool}: address ${JSON.stringify(address)} is not host:port`, { pool, id, address });
    }
    const existing = p.byId.get(id);
    if (existing !== undefined) {
      if (existing.address === address) return;
      this.forget(p, existing); // same id, new address: a different guest; start from unhealthy
    }
    const connect = via !== undefined ? this.connectVia?.(via) : undefined;
    const agent = new http.Agent({
      keepAlive: true,
      maxSockets: this.maxSockets,
      maxFreeSockets: Math.min(this.maxSockets, 32),
      timeout: this.idleSocketMs,
      scheduling: 'lifo',
    });
    if (connect) (agent as unknown as { createConnection: unknown }).createConnection = createConnectionVia(connect);
    const b: ProxyBackend = {
      ...(connect ? { connect } : {}),
      id,
      address,
      host: hp.host,
      port: hp.port,
      admin: 'ready',
      healthy: false,
      okStreak: 0,
      failStreak: 0,
      active: 0,
      served: 0,
      failed: 0,
      proven: false,
      downs: 0,
      stats: new ServingCounter(),
      agent,
      removed: false,
      timer: undefined,
    };
    p.byId.set(id, b);
    p.backends.push(b);
    this.emit({ kind: 'added', pool, id, address });
    this.updatePanic(p);
    this.scheduleCheck(p, b, 0);
  }

  async setDrain(pool: string, id: string): Promise<void> {
    const p = this.pool(pool);
    const b = p.byId.get(id);
    if (b === undefined) {
      throw new GridhostError('GH_BACKEND_UNKNOWN', `backend ${id} is not registered in pool ${pool}`, { pool, id });
    }
    if (b.admin === 'drain') return;
    b.admin = 'drain';
    this.emit({ kind: 'drain', pool, id, address: b.address });
    this.updatePanic(p);
  }

  async remove(pool: string, id: string): Promise<void> {
    const p = this.pools.get(pool);
    const b = p?.byId.get(id);
    if (p === undefined || b === undefined) return;
    this.forget(p, b);
    this.emit({ kind: 'removed', pool, id, address: b.address });
    this.updatePanic(p);
  }

  /** The builtin balancer never waits on anything outside the process: a pool it has is never blocked. */
  blocked(): undefined {
    return undefined;
  }

  async list(pool: string): Promise<BackendStatus[]> {
    const p = this.pool(pool);
    return p.backends.map((b) => ({
      id: b.id,
      address: b.address,
      admin: b.admin,
      healthy: b.healthy,
      active: b.active,
      served: b.served,
      failed: b.failed,
    }));
  }

  async serving(pool: string): Promise<PoolServing> {
    return servingSnapshot(this.pool(pool));
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.keys()].map((name) => this.removePool(name)));
  }

  // --- internals ---

  private pool(pool: string): PoolEntry {
    const p = this.pools.get(pool);
    if (p === undefined) throw failed(`pool ${pool} has no front end on this balancer: call ensurePool first`, { pool });
    return p;
  }

  private serialise(pool: string, op: () => Promise<void>): Promise<void> {
    const prev = this.poolOps.get(pool) ?? Promise.resolve();
    const next = prev.then(op, op);
    const tail = next.catch(() => undefined);
    this.poolOps.set(pool, tail);
    void tail.then(() => {
      if (this.poolOps.get(pool) === tail) this.poolOps.delete(pool);
    });
    return next;
  }

  private async doEnsurePool(pool: string, listen: string, healthPath: string, check: HealthCheckSettings, responseTimeoutMs: number, panicThresholdPercent: number): Promise<void> {
    const hp = parseHostPort(listen, true);
    if (hp === undefined) throw failed(`pool ${pool}: listen ${JSON.stringify(listen)} is not host:port`, { pool, listen });
    if (!healthPath.startsWith('/')) {
      throw failed(`pool ${pool}: health path ${JSON.stringify(healthPath)} must start with /`, { pool, healthPath });
    }
    const existing = this.pools.get(pool);
    if (existing !== undefined && existing.listen === listen) {
      existing.healthPath = healthPath;
      existing.check = check;
      existing.responseTimeoutMs = responseTimeoutMs;
      existing.panicThresholdPercent = panicThresholdPercent;
      this.updatePanic(existing);
      return;
    }
    const entry: PoolEntry = existing ?? {
      name: pool,
      backends: [],
      cursor: 0,
      closing: false,
      failOpen: false,
      stats: new ServingCounter(),
      noBackend: 0,
      panicThresholdPercent,
      wasRoutable: false,
      failOpenEntered: 0,
      noBackendBody: wireError('GH_NO_BACKEND', `no healthy backend is ready in pool ${pool}`, pool),
      badGatewayBody: wireError('GH_BAD_GATEWAY', `the backend failed before answering (pool ${pool})`, pool),
      gatewayTimeoutBody: wireError('GH_GATEWAY_TIMEOUT', `the backend did not begin its answer within balancer.response_timeout (pool ${pool})`, pool),
      responseTimeoutMs,
      listen,
      healthPath,
      check,
      host: hp.host,
      server: undefined as unknown as http.Server,
      byId: new Map(),
    };
    const server = http.createServer((req, res) => handleRequest(entry, req, res));
    await listenOn(server, hp.host, hp.port, pool, listen);
    const old = existing?.server;
    entry.server = server;
    entry.listen = listen;
    entry.host = hp.host;
    entry.healthPath = healthPath;
    entry.check = check;
    entry.responseTimeoutMs = responseTimeoutMs;
    entry.panicThresholdPercent = panicThresholdPercent;
    this.pools.set(pool, entry);
    this.emit({ kind: 'pool-up', pool, address: this.frontendAddress(pool) });
    // Moved to a new address: the old front end stops taking connections.
    if (old !== undefined) await closeServer(old, this.closeTimeoutMs);
  }

  private async doRemovePool(pool: string): Promise<void> {
    const p = this.pools.get(pool);
    if (p === undefined) return;
    this.pools.delete(pool);
    p.closing = true;
    for (const b of [...p.backends]) this.forget(p, b);
    await closeServer(p.server, this.closeTimeoutMs);
    this.emit({ kind: 'pool-down', pool });
  }

  private forget(p: PoolEntry, b: ProxyBackend): void {
    b.removed = true;
    if (b.timer !== undefined) clearTimeout(b.timer);
    b.timer = undefined;
    p.byId.delete(b.id);
    const i = p.backends.indexOf(b);
    if (i >= 0) p.backends.splice(i, 1);
    releaseIfIdle(b); // otherwise the last request in flight releases it
  }

  private scheduleCheck(p: PoolEntry, b: ProxyBackend, delay: number): void {
    b.timer = setTimeout(() => void this.check(p, b), delay);
    b.timer.unref();
  }

  private async check(p: PoolEntry, b: ProxyBackend): Promise<void> {
    b.timer = undefined;
    const started = Date.now();
    const c = p.check;
    const r = await probe(b.host, b.port, p.healthPath, c.timeoutMs, b.connect);
    if (b.removed) return;
    const now = Date.now();
    b.lastCheck = { at: now, ok: r.ok, detail: r.detail };
    if (applyCheck(b, r.ok, c.rise, c.fall)) {
      b.changedAt = now;
      if (b.healthy) b.proven = true;
      else b.downs++;
      const reason = b.healthy
        ? `${c.rise} consecutive health check${c.rise === 1 ? '' : 's'} of ${p.healthPath} passed (${r.detail})`
        : `${c.fall} consecutive health check${c.fall === 1 ? '' : 's'} of ${p.healthPath} failed, the last: ${r.detail}`;
      this.emit({ kind: b.healthy ? 'healthy' : 'unhealthy', pool: p.name, id: b.id, address: b.address, reason });
      this.updatePanic(p);
    }
    // Start to start, as HAProxy's inter: a hung backend is out after about fall x interval
    // when the check timeout is within the interval.
    this.scheduleCheck(p, b, Math.max(0, c.intervalMs - (now - started)));
  }

  /** Re-evaluate fail-open and whether the pool can serve at all; report the changes. */
  private updatePanic(p: PoolEntry): void {
    if (this.pools.get(p.name) !== p) return;
    for (const change of reassessPool(p)) this.emit(change);
  }

  private emit(change: BalancerChange): void {
    if (this.onChange === undefined) return;
    try {
      this.onChange(change);
    } catch {
      // A broken listener must not break routing.
    }
  }
}

function listenOn(server: http.Server, host: string, port: number, pool: string, listen: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const why =
        err.code === 'EADDRINUSE'
          ? `address ${listen} is already in use (EADDRINUSE): stop what holds it or change balancer.listen`
          : err.code === 'EACCES'
            ? `no permission to bind ${listen} (EACCES): use a port above 1023 or change balancer.listen`
            : err.code === 'EADDRNOTAVAIL'
              ? `address ${listen} is not on this machine (EADDRNOTAVAIL): change balancer.listen`
              : `cannot listen on ${listen}: ${err.message}`;
      reject(failed(`pool ${pool}: ${why}`, { pool, listen, errno: err.code }, err));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Stop accepting, close idle keep-alive connections, give requests in flight `boundMs`, then cut. */
function closeServer(server: http.Server, boundMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), boundMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** The keys of `o` whose value is not undefined (so a spread never overwrites a default with undefined). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
