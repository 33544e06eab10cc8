// The Balancer role on a real HAProxy 2.6, through its runtime API (runtime-api.ts). HAProxy
// holds the front ends (haproxy.cfg: a frontend and a backend per pool) and keeps serving while
// gridhost is down; gridhost adds and removes the backend's servers at runtime. It owns exactly
// the servers named `<prefix><guest id>` (server-plan.ts) and never touches any other.
//
// Dynamic servers do not survive an HAProxy reload or restart: every `reconcileMs` the driver
// compares each backend with what it registered and adds back what is missing, and sooner
// when its cheap `show info` watch (every `watchMs`) sees a new HAProxy worker
// (reconcile-loop.ts, backend-sync.ts). Problems on HAProxy's side (socket unreachable, not
// admin, backend missing, a name gridhost did not create) block the pool (blocked()), with a
// message naming the pool and what to change in haproxy.cfg, until a later reconcile finds them
// fixed. One server is put in or taken out by server-registration.ts; this class is the
// Balancer's methods over them, one operation at a time per server.
//
// Error contract: ../balancer.ts, with HAProxy's own codes: GH_HAPROXY_UNREACHABLE,
// GH_HAPROXY_PERMISSION_DENIED, GH_HAPROXY_NOT_ADMIN, GH_HAPROXY_UNKNOWN_BACKEND,
// GH_HAPROXY_SERVER_EXISTS, GH_HAPROXY_COMMAND_FAILED (messages prefixed with the pool);
// GH_BALANCER_FAILED for what the policy must change (a guest HAProxy cannot reach, a backend
// two pools share, an unknown pool); GH_BACKEND_UNKNOWN from setDrain().
import { GridhostError, isGridhostError } from '../../../errors/errors.ts';
import type { Balancer, BackendStatus, PoolServing, PoolSettings } from '../balancer.ts';
import { parseHostPort } from '../builtin/address.ts';
import { BackendSync } from './backend-sync.ts';
import { routeError } from './haproxy-messages.ts';
import { DEFAULT_CHECK, type HaproxyChange, type HaproxyPoolSettings, type PoolEntry, type Wanted } from './pool-entry.ts';
import { ReconcileLoop } from './reconcile-loop.ts';
import { HAPROXY_NAME_RE, HaproxyRuntime } from './runtime-api.ts';
import { parseSocketAddress } from './runtime-socket.ts';
import { ServerRegistration } from './server-registration.ts';
import { serverName } from './server-plan.ts';
import { poolServing } from './serving-map.ts';

export { DEFAULT_CHECK, type HaproxyChange, type HaproxyChangeKind, type HaproxyPoolSettings } from './pool-entry.ts';

export interface HaproxyBalancerOptions {
  /** The stats socket as haproxy.cfg's `stats socket` names it: a unix path or host:port. */
  socket: string;
  /** One runtime-API command's limit. Default 5000. */
  timeoutMs?: number;
  /** How often backends are compared with what gridhost registered. Default 2000. */
  reconcileMs?: number;
  /** How often HAProxy's worker PID is looked at, to notice a reload before the next reconcile. Default 250. */
  watchMs?: number;
  /** Names of the servers gridhost creates start with this. Default "gh-". */
  serverPrefix?: string;
  /** remove(): how long streams still attached to a server in maintenance may finish before they are cut. Default 2000. */
  removeWaitMs?: number;
  onChange?: (c: HaproxyChange) => void;
}

export class HaproxyBalancer implements Balancer {
  readonly name = 'haproxy';
  private readonly rt: HaproxyRuntime;
  private readonly prefix: string;
  private readonly onChange: ((c: HaproxyChange) => void) | undefined;
  private readonly pools = new Map<string, PoolEntry>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly servers: ServerRegistration;
  private readonly loop: ReconcileLoop;

  constructor(opts: HaproxyBalancerOptions) {
    const address = parseSocketAddress(opts.socket);
    if (address === undefined) {
      throw new GridhostError('GH_CONFIG_INVALID', `haproxy.socket ${JSON.stringify(opts.socket)} is neither a unix socket path (/run/haproxy/admin.sock) nor host:port`);
    }
    this.rt = new HaproxyRuntime(address, { timeoutMs: opts.timeoutMs ?? 5000 });
    this.prefix = opts.serverPrefix ?? 'gh-';
    const reconcileMs = opts.reconcileMs ?? 2000;
    this.onChange = opts.onChange;
    this.servers = new ServerRegistration(this.rt, this.prefix, opts.removeWaitMs ?? 2000);
    const emit = (c: HaproxyChange) => this.emit(c);
    const sync = new BackendSync({ rt: this.rt, prefix: this.prefix, servers: this.servers, locked: (pool, id, op) => this.locked(pool, id, op), emit });
    this.loop = new ReconcileLoop({ rt: this.rt, pools: this.pools, sync, emit, reconcileMs, watchMs: Math.min(opts.watchMs ?? 250, reconcileMs) });
  }

  get socket(): string {
    return this.rt.where;
  }

  /**
   * Take on a pool: its backend must exist in haproxy.cfg. Rejects (GH_BALANCER_FAILED) only
   * for what the policy must change; what HAProxy lacks blocks the pool instead.
   */
  async preparePool(pool: string, settings: HaproxyPoolSettings): Promise<void> {
    if (!HAPROXY_NAME_RE.test(settings.backend)) {
      throw new GridhostError('GH_BALANCER_FAILED', `pool ${pool}: ${JSON.stringify(settings.backend)} is not an HAProxy backend name (letters, digits, "-", "_", ".", ":")`, { pool });
    }
    for (const other of this.pools.values()) {
      if (other.pool !== pool && other.backend === settings.backend) {
        throw new GridhostError('GH_BALANCER_FAILED',
          `pool ${pool}: HAProxy backend "${settings.backend}" already serves pool ${other.pool}; give each pool a backend of its own in haproxy.cfg and name it in the policy (balancer.backend)`,
          { pool, backend: settings.backend });
      }
    }
    const existing = this.pools.get(pool);
    if (existing && existing.backend !== settings.backend) {
      // Moved to another backend: leave the old one as gridhost found it, register anew.
      for (const id of existing.wanted.keys()) await this.servers.deleteServer(existing.backend, serverName(this.prefix, id)).catch(() => undefined);
      for (const w of existing.wanted.values()) w.confirmed = false;
      existing.checkLayer = undefined;
    }
    const entry: PoolEntry = existing ?? { pool, backend: settings.backend, check: settings.check, wanted: new Map(), foreign: new Set() };
    entry.backend = settings.backend;
    entry.check = settings.check;
    this.pools.set(pool, entry);
    await this.loop.reconcileNow();
    this.loop.schedule();
  }

  /**
   * Balancer.ensurePool: the pool's front end and its `timeout server` are haproxy.cfg's, so
   * `listen` and `responseTimeoutMs` are not used; the backend is `settings.backend` (default:
   * the pool's name), checked every check.intervalMs, up after `rise` and down after `fall`.
   */
  ensurePool(pool: string, _listen: string, _healthPath: string, settings: PoolSettings = {}): Promise<void> {
    const c = settings.check ?? {};
    return this.preparePool(pool, {
      backend: settings.backend ?? pool,
      check: { interMs: c.intervalMs ?? DEFAULT_CHECK.interMs, rise: c.rise ?? DEFAULT_CHECK.rise, fall: c.fall ?? DEFAULT_CHECK.fall },
    });
  }

  /**
   * Balancer.removePool: the front end is haproxy.cfg's, so this only stops managing the pool
   * (no more reconciling, re-adding or blocking). Its servers stay and keep serving: another
   * gridhost may lead the pool now (a lease handed over) and own the very same servers, and a
   * retired pool has none left. To take servers out, remove() them first.
   */
  async removePool(pool: string): Promise<void> {
    await this.loop.settled();
    this.pools.delete(pool);
  }

  blocked(pool: string): GridhostError | undefined {
    const p = this.pools.get(pool);
    return p?.unroutable ?? p?.blocked;
  }

  async add(pool: string, id: string, address: string, via?: string): Promise<void> {
    const p = this.entry(pool);
    if (via !== undefined) {
      // Every later guest of the pool would be the same: stop launching them.
      p.unroutable = routeError(pool, id, via);
      this.emit({ kind: 'blocked', pool, backend: p.backend, error: { code: p.unroutable.code, message: p.unroutable.message } });
      throw p.unroutable;
    }
    if (parseHostPort(address) === undefined) {
      throw new GridhostError('GH_BALANCER_FAILED', `backend ${id} of pool ${pool}: address ${JSON.stringify(address)} is not host:port`, { pool, id, address });
    }
    await this.locked(pool, id, async () => {
      const prev = p.wanted.get(id);
      if (prev && prev.address === address && prev.confirmed) return;
      if (prev && prev.address !== address) await this.servers.deleteServer(p.backend, serverName(this.prefix, id));
      const w: Wanted = { address, admin: 'ready', confirmed: false };
      // Kept even if the registration fails now: the reconcile loop finishes it (an adopted
      // guest while HAProxy is away); a launch that fails cleans up with remove().
      p.wanted.set(id, w);
      if (p.blocked) throw p.blocked;
      await this.servers.register(p, id, w);
      this.emit({ kind: 'added', pool, backend: p.backend, id, detail: address });
    });
  }

  async setDrain(pool: string, id: string): Promise<void> {
    const p = this.entry(pool);
    await this.locked(pool, id, async () => {
      const w = p.wanted.get(id);
      if (w) w.admin = 'drain';
      try {
        await this.rt.setState(p.backend, serverName(this.prefix, id), 'drain');
      } catch (e) {
        if (isGridhostError(e) && e.details.fault === 'unknown-server') {
          // Not in HAProxy (a reload dropped it): nothing in flight there. Re-added as drain.
          if (w) return;
          throw new GridhostError('GH_BACKEND_UNKNOWN', `backend ${id} is not registered in pool ${pool}`, { pool, id });
        }
        throw this.servers.forPool(p, e);
      }
      this.emit({ kind: 'drain', pool, backend: p.backend, id });
    });
  }

  async remove(pool: string, id: string): Promise<void> {
    const name = serverName(this.prefix, id);
    const p = this.pools.get(pool);
    if (!p) {
      // A pool gridhost no longer manages (its policy is gone): find the server wherever it is.
      const backends = (await this.rt.serversState()).filter((r) => r.name === name).map((r) => r.backend);
      for (const b of backends) await this.servers.deleteServer(b, name);
      return;
    }
    await this.locked(pool, id, async () => {
      p.wanted.delete(id);
      if (p.foreign.has(name)) return;
      try {
        await this.servers.deleteServer(p.backend, name);
      } catch (e) {
        throw this.servers.forPool(p, e);
      }
      this.emit({ kind: 'removed', pool, backend: p.backend, id });
    });
  }

  async list(pool: string): Promise<BackendStatus[]> {
    return (await this.serving(pool)).backends.map(({ id, address, admin, healthy, active, served, failed }) => ({ id, address, admin, healthy, active, served, failed }));
  }

  /** show stat mapped onto the serving figures (serving-map.ts: what HAProxy does not count stays 0). */
  async serving(pool: string): Promise<PoolServing> {
    const p = this.entry(pool);
    try {
      const [rows, stats] = await Promise.all([this.rt.serversState(p.backend), this.rt.stat(p.backend, { aggregates: true, ...(p.backendId !== undefined ? { backendId: p.backendId } : {}) })]);
      const seen = rows[0]?.backendId;
      if (seen !== undefined && Number.isInteger(seen)) p.backendId = seen;
      return poolServing(pool, this.prefix, rows, stats, Date.now(), p.foreign);
    } catch (e) {
      throw this.servers.forPool(p, e);
    }
  }

  /** Stops reconciling. HAProxy keeps every server: it serves on while gridhost is down. */
  async close(): Promise<void> {
    await this.loop.close();
  }

  /** One reconcile pass now (after any running one); for preparePool and tests. */
  reconcileNow(): Promise<void> {
    return this.loop.reconcileNow();
  }

  // --- internals ---

  private entry(pool: string): PoolEntry {
    const p = this.pools.get(pool);
    if (!p) throw new GridhostError('GH_BALANCER_FAILED', `pool ${pool} has no HAProxy backend assigned: call preparePool first`, { pool });
    return p;
  }

  /** One operation at a time per server: add, drain, remove and re-add never interleave. */
  private locked<T>(pool: string, id: string, op: () => Promise<T>): Promise<T> {
    const key = `${pool}/${id}`;
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(op, op);
    const tail = next.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return next;
  }

  private emit(c: HaproxyChange): void {
    try {
      this.onChange?.(c);
    } catch {
      // A broken listener must not break registration.
    }
  }
}
