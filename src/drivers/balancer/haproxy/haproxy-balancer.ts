// The Balancer role on a real HAProxy 2.6, through its runtime API (runtime-api.ts). HAProxy
// holds the front ends (haproxy.cfg: a frontend and a backend per pool) and keeps serving while
// gridhost is down; gridhost adds and removes the backend's servers at runtime. It owns exactly
// the servers named `<prefix><guest id>` (server-plan.ts) and never touches any other.
//
// Dynamic servers do not survive an HAProxy reload or restart: every `reconcileMs` the driver
// compares each backend with what it registered and adds back what is missing, and sooner
// when its cheap `show info` watch (every `watchMs`) sees a new HAProxy worker. Problems on
// HAProxy's side (socket unreachable, not admin, backend missing, a name gridhost did not
// create) block the pool (blocked()), with a message naming the pool and what to change in
// haproxy.cfg, until a later reconcile finds them fixed.
//
// Error contract: ../balancer.ts, with HAProxy's own codes: GH_HAPROXY_UNREACHABLE,
// GH_HAPROXY_PERMISSION_DENIED, GH_HAPROXY_NOT_ADMIN, GH_HAPROXY_UNKNOWN_BACKEND,
// GH_HAPROXY_SERVER_EXISTS, GH_HAPROXY_COMMAND_FAILED (messages prefixed with the pool);
// GH_BALANCER_FAILED for what the policy must change (a guest HAProxy cannot reach, a backend
// two pools share, an unknown pool); GH_BACKEND_UNKNOWN from setDrain().
import { GridhostError, isGridhostError, wrapError } from '../../../errors/errors.ts';
import type { Balancer, BackendStatus, PoolServing, PoolSettings } from '../balancer.ts';
import { parseHostPort } from '../builtin/address.ts';
import { HAPROXY_NAME_RE, HaproxyRuntime, type ServerCheck } from './runtime-api.ts';
import { parseSocketAddress } from './runtime-socket.ts';
import { guestIdOf, planServers, rowAddress, serverName, type WantedServer } from './server-plan.ts';
import { blockedError, routeError } from './haproxy-messages.ts';
import { poolServing } from './serving-map.ts';

/** A check a second, up after 2 passing and down after 2 failing (HAProxy's own: 2s, 2, 3). */
export const DEFAULT_CHECK: ServerCheck = Object.freeze({ interMs: 1000, rise: 2, fall: 2 });

export interface HaproxyPoolSettings {
  /** The pool's backend in haproxy.cfg. */
  backend: string;
  /** HAProxy's `inter`, `rise`, `fall` for the pool's servers (`timeout check` is haproxy.cfg's). */
  check: ServerCheck;
}

export type HaproxyChangeKind = 'blocked' | 'unblocked' | 'added' | 'readded' | 'drain' | 'removed' | 'restarted' | 'tcp-check-only';

export interface HaproxyChange {
  kind: HaproxyChangeKind;
  pool?: string;
  backend?: string;
  id?: string;
  /** Guests re-added after a reload. */
  ids?: string[];
  error?: { code: string; message: string };
  detail?: string;
}

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

interface Wanted extends WantedServer {
  /** add() (or a re-add) ran to the end: the server is in HAProxy with health checks and its admin state. */
  confirmed: boolean;
}

interface PoolEntry {
  pool: string;
  backend: string;
  check: ServerCheck;
  wanted: Map<string, Wanted>;
  /** Names carrying the prefix that gridhost found it did not create: never touched. */
  foreign: Set<string>;
  blocked?: GridhostError;
  /** A guest HAProxy cannot reach was offered (its route goes through a dom0): gridhost's
   *  configuration must change, so this block lasts until gridhost restarts. */
  unroutable?: GridhostError;
  /** Whether the backend's checks were seen to be HTTP (L7) or only TCP (L4), once known. */
  checkLayer?: 'L7' | 'L4';
  /** HAProxy's numeric id of the backend, once seen (show stat reads that proxy alone). */
  backendId?: number;
}

export class HaproxyBalancer implements Balancer {
  readonly name = 'haproxy';
  private readonly rt: HaproxyRuntime;
  private readonly prefix: string;
  private readonly reconcileMs: number;
  private readonly watchMs: number;
  private readonly removeWaitMs: number;
  private lastFullAt = 0;
  private readonly onChange: ((c: HaproxyChange) => void) | undefined;
  private readonly pools = new Map<string, PoolEntry>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private worker?: { pid: number; level: string };
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private closed = false;

  constructor(opts: HaproxyBalancerOptions) {
    const address = parseSocketAddress(opts.socket);
    if (address === undefined) {
      throw new GridhostError('GH_CONFIG_INVALID', `haproxy.socket ${JSON.stringify(opts.socket)} is neither a unix socket path (/run/haproxy/admin.sock) nor host:port`);
    }
    this.rt = new HaproxyRuntime(address, { timeoutMs: opts.timeoutMs ?? 5000 });
    this.prefix = opts.serverPrefix ?? 'gh-';
    this.reconcileMs = opts.reconcileMs ?? 2000;
    this.watchMs = Math.min(opts.watchMs ?? 250, this.reconcileMs);
    this.removeWaitMs = opts.removeWaitMs ?? 2000;
    this.onChange = opts.onChange;
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
      for (const id of existing.wanted.keys()) await this.deleteServer(existing.backend, serverName(this.prefix, id)).catch(() => undefined);
      for (const w of existing.wanted.values()) w.confirmed = false;
      existing.checkLayer = undefined;
    }
    const entry: PoolEntry = existing ?? { pool, backend: settings.backend, check: settings.check, wanted: new Map(), foreign: new Set() };
    entry.backend = settings.backend;
    entry.check = settings.check;
    this.pools.set(pool, entry);
    await this.reconcileNow();
    this.schedule();
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
    await this.ticking;
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
      if (prev && prev.address !== address) await this.deleteServer(p.backend, serverName(this.prefix, id));
      const w: Wanted = { address, admin: 'ready', confirmed: false };
      // Kept even if the registration fails now: the reconcile loop finishes it (an adopted
      // guest while HAProxy is away); a launch that fails cleans up with remove().
      p.wanted.set(id, w);
      if (p.blocked) throw p.blocked;
      await this.register(p, id, w);
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
        throw this.forPool(p, e);
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
      for (const b of backends) await this.deleteServer(b, name);
      return;
    }
    await this.locked(pool, id, async () => {
      p.wanted.delete(id);
      if (p.foreign.has(name)) return;
      try {
        await this.deleteServer(p.backend, name);
      } catch (e) {
        throw this.forPool(p, e);
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
      throw this.forPool(p, e);
    }
  }

  /** Stops reconciling. HAProxy keeps every server: it serves on while gridhost is down. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  /** One reconcile pass now (after any running one); for preparePool and tests. */
  async reconcileNow(): Promise<void> {
    while (this.ticking) await this.ticking;
    this.ticking = this.tick().finally(() => (this.ticking = undefined));
    await this.ticking;
  }

  // --- internals ---

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.watch().finally(() => this.schedule());
    }, this.watchMs);
    this.timer.unref();
  }

  /** A full reconcile when one is due or HAProxy's worker changed; else nothing. */
  private async watch(): Promise<void> {
    if (Date.now() - this.lastFullAt >= this.reconcileMs || this.blockedAny()) return this.reconcileNow();
    try {
      const info = await this.rt.info();
      if (info.pid !== this.worker?.pid) await this.reconcileNow();
    } catch {
      await this.reconcileNow(); // reports the pools blocked
    }
  }

  private blockedAny(): boolean {
    for (const p of this.pools.values()) if (p.blocked) return true;
    return false;
  }

  private async tick(): Promise<void> {
    this.lastFullAt = Date.now();
    if (this.pools.size === 0) return;
    try {
      const info = await this.rt.info();
      if (this.worker?.pid !== info.pid) {
        const level = await this.rt.cliLevel();
        if (this.worker !== undefined) this.emit({ kind: 'restarted', detail: `HAProxy worker pid ${this.worker.pid} -> ${info.pid}: its dynamic servers are gone until gridhost adds them again` });
        this.worker = { pid: info.pid, level };
      }
      if (this.worker.level !== 'admin') {
        const e = new GridhostError('GH_HAPROXY_NOT_ADMIN', `HAProxy's stats socket ${this.rt.where} is at level "${this.worker.level}"`, { socket: this.rt.where, level: this.worker.level });
        for (const p of this.pools.values()) this.block(p, e);
        this.worker = undefined; // ask again next time: a reload may fix it
        return;
      }
    } catch (e) {
      this.worker = undefined;
      for (const p of this.pools.values()) this.block(p, wrapError('GH_HAPROXY_UNREACHABLE', e));
      return;
    }
    for (const p of [...this.pools.values()]) await this.syncPool(p);
  }

  /** Compare one backend with what was registered: add back what is missing, block on what gridhost did not create. */
  private async syncPool(p: PoolEntry): Promise<void> {
    let rows;
    try {
      rows = await this.rt.serversState(p.backend);
    } catch (e) {
      this.block(p, wrapError('GH_HAPROXY_UNREACHABLE', e));
      return;
    }
    const plan = planServers(p.pool, this.prefix, p.wanted, rows);
    let problem: GridhostError | undefined;
    if (plan.foreign.length > 0) {
      problem = new GridhostError('GH_HAPROXY_SERVER_EXISTS', `backend "${p.backend}" holds ${plan.foreign.join(', ')}`, { backend: p.backend, servers: plan.foreign, fault: 'foreign-prefix' });
    }
    for (const m of plan.mismatched) {
      const name = serverName(this.prefix, m.id);
      p.foreign.add(name);
      problem ??= new GridhostError('GH_HAPROXY_SERVER_EXISTS', `backend "${p.backend}" has a server named ${name} at ${m.found}, but guest ${m.id} is at ${m.wanted}`, { backend: p.backend, servers: [name], fault: 'other-address' });
    }
    const redo = [...p.wanted].filter(([id, w]) => plan.missing.includes(id) || !w.confirmed).map(([id]) => id);
    const readded: string[] = [];
    for (const id of redo) {
      try {
        const done = await this.locked(p.pool, id, async () => {
          const w = p.wanted.get(id);
          if (!w || p.foreign.has(serverName(this.prefix, id))) return false;
          await this.register(p, id, w);
          return true;
        });
        if (done) readded.push(id);
      } catch (e) {
        problem ??= wrapError('GH_HAPROXY_COMMAND_FAILED', e);
      }
    }
    if (readded.length > 0) this.emit({ kind: 'readded', pool: p.pool, backend: p.backend, ids: readded });
    if (problem) this.block(p, problem);
    else this.unblock(p);
    if (p.checkLayer === undefined && p.wanted.size > 0) await this.learnCheckLayer(p);
  }

  /** Add (or adopt) the server and bring it to its admin state with health checks on. */
  private async register(p: PoolEntry, id: string, w: Wanted): Promise<void> {
    const name = serverName(this.prefix, id);
    try {
      await this.rt.addServer(p.backend, name, w.address, p.check);
    } catch (e) {
      if (!isGridhostError(e) || e.code !== 'GH_HAPROXY_SERVER_EXISTS') throw this.forPool(p, e);
      const row = (await this.rt.serversState(p.backend)).find((r) => r.name === name);
      if (row && rowAddress(row) !== w.address) {
        p.foreign.add(name);
        throw this.forPool(p, new GridhostError('GH_HAPROXY_SERVER_EXISTS', `backend "${p.backend}" has a server named ${name} at ${rowAddress(row)}, but guest ${id} is at ${w.address}`, { backend: p.backend, servers: [name], fault: 'other-address' }));
      }
      // gridhost's own from before a restart: adopted as it is.
    }
    try {
      await this.rt.enableHealth(p.backend, name);
      await this.rt.setState(p.backend, name, w.admin);
    } catch (e) {
      throw this.forPool(p, e);
    }
    w.confirmed = true;
  }

  /** Maintenance, then delete; streams still attached get `removeWaitMs`, then are cut. */
  private async deleteServer(backend: string, name: string): Promise<void> {
    try {
      await this.rt.setState(backend, name, 'maint');
    } catch (e) {
      if (isGridhostError(e) && (e.details.fault === 'unknown-server' || e.code === 'GH_HAPROXY_UNKNOWN_BACKEND')) return;
      throw e;
    }
    let deadline = Date.now() + this.removeWaitMs;
    let cut = false;
    for (;;) {
      const r = await this.rt.delServer(backend, name);
      if (r !== 'busy') return;
      if (Date.now() >= deadline) {
        if (cut) throw new GridhostError('GH_BALANCER_FAILED', `HAProxy server ${backend}/${name} still has connections after its sessions were shut down`, { backend, server: name });
        await this.rt.shutdownSessions(backend, name);
        cut = true;
        deadline = Date.now() + 1000;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Whether the backend's checks are HTTP: a TCP-only check would call a broken guest healthy. */
  private async learnCheckLayer(p: PoolEntry): Promise<void> {
    try {
      const mine = (await this.rt.stat(p.backend, p.backendId !== undefined ? { backendId: p.backendId } : {})).filter((s) => guestIdOf(this.prefix, s.name)?.startsWith(`${p.pool}-`));
      if (mine.some((s) => s.checkStatus.startsWith('L7'))) p.checkLayer = 'L7';
      else if (mine.some((s) => s.checkStatus === 'L4OK')) {
        p.checkLayer = 'L4';
        this.emit({ kind: 'tcp-check-only', pool: p.pool, backend: p.backend, detail: `backend "${p.backend}" checks only that guests accept connections: add \`option httpchk GET <the pool's guest.health_path>\` to it in haproxy.cfg` });
      }
    } catch {
      // Only a warning depends on it; the next reconcile asks again.
    }
  }

  private block(p: PoolEntry, cause: GridhostError): void {
    const e = blockedError(p.pool, p.backend, this.rt.where, this.prefix, cause);
    const was = p.blocked;
    p.blocked = e;
    if (was?.message !== e.message) this.emit({ kind: 'blocked', pool: p.pool, backend: p.backend, error: { code: e.code, message: e.message } });
  }

  private unblock(p: PoolEntry): void {
    if (!p.blocked) return;
    p.blocked = undefined;
    this.emit({ kind: 'unblocked', pool: p.pool, backend: p.backend });
  }

  /** A runtime error in a pool's terms (the pool named, what to change in haproxy.cfg). */
  private forPool(p: PoolEntry, e: unknown): GridhostError {
    const err = wrapError('GH_HAPROXY_COMMAND_FAILED', e);
    if (!err.code.startsWith('GH_HAPROXY_')) return err;
    return blockedError(p.pool, p.backend, this.rt.where, this.prefix, err);
  }

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
