// A Balancer for unit tests of its callers: keeps the contract's bookkeeping in memory, records
// every call, lets tests set health and requests in flight per backend, and injects errors.
import { GridhostError } from '../../errors/errors.ts';
import type { Balancer, BackendServing, BackendStatus, PoolServing, PoolSettings, ServingStats } from './balancer.ts';
import { emptyStats } from './serving-stats.ts';

export type BalancerMethod = 'ensurePool' | 'removePool' | 'add' | 'setDrain' | 'remove' | 'list' | 'serving' | 'close';

export interface BalancerCall {
  method: BalancerMethod;
  args: string[];
}

export interface FakeBalancerOptions {
  /** Backends start healthy (default true: callers' tests rarely simulate the rise). */
  healthyOnAdd?: boolean;
}

interface FakePool {
  listen: string;
  healthPath: string;
  backends: Map<string, BackendServing>;
  frontend: ServingStats;
  noBackend: number;
  failOpen: boolean;
  failOpenEntered: number;
  /** id -> values list() reports for `active`, one per call; the last one sticks. */
  scripted: Map<string, number[]>;
}

export class FakeBalancer implements Balancer {
  readonly name = 'fake';
  readonly calls: BalancerCall[] = [];
  private readonly pools = new Map<string, FakePool>();
  private readonly injected = new Map<BalancerMethod, Error[]>();
  private readonly blocks = new Map<string, GridhostError>();
  private readonly healthyOnAdd: boolean;

  constructor(opts: FakeBalancerOptions = {}) {
    this.healthyOnAdd = opts.healthyOnAdd ?? true;
  }

  /** The next `times` calls of `method` reject with `error` (default GH_BALANCER_FAILED). */
  inject(method: BalancerMethod, error: Error = new GridhostError('GH_BALANCER_FAILED', 'injected failure'), times = 1): void {
    const q = this.injected.get(method) ?? [];
    for (let i = 0; i < times; i++) q.push(error);
    this.injected.set(method, q);
  }

  /** blocked(pool) answers `error` until called again without one. */
  setBlocked(pool: string, error?: GridhostError): void {
    if (error) this.blocks.set(pool, error);
    else this.blocks.delete(pool);
  }

  blocked(pool: string): GridhostError | undefined {
    return this.blocks.get(pool);
  }

  setHealth(pool: string, id: string, healthy: boolean): void {
    this.backend(pool, id).healthy = healthy;
  }

  /** The backend fails its check `fall` times after being healthy, as a real balancer reports it. */
  fall(pool: string, id: string, detail = 'HTTP 503', at = 0): void {
    const b = this.backend(pool, id);
    if (b.healthy) b.downs++;
    b.healthy = false;
    b.lastCheck = { at, ok: false, detail };
    b.changedAt = at;
  }

  /** Merge into a backend's serving figures (what serving() reports for it). */
  setStats(pool: string, id: string, stats: Partial<ServingStats>): void {
    const b = this.backend(pool, id);
    b.stats = { ...b.stats, ...stats };
  }

  /** Pool-level figures serving() reports. */
  setPoolServing(pool: string, patch: Partial<Pick<PoolServing, 'frontend' | 'noBackend' | 'failOpen' | 'failOpenEntered'>>): void {
    Object.assign(this.pool(pool), patch);
  }

  setActive(pool: string, id: string, active: number): void {
    this.backend(pool, id).active = active;
    this.pools.get(pool)!.scripted.delete(id);
  }

  /** list() reports these `active` values in turn (one per call); the last one then sticks. */
  scriptActive(pool: string, id: string, values: number[]): void {
    this.backend(pool, id);
    this.pools.get(pool)!.scripted.set(id, [...values]);
  }

  setServed(pool: string, id: string, served: number): void {
    this.backend(pool, id).served = served;
  }

  /** Current state without recording a call. */
  snapshot(pool: string): BackendServing[] {
    return [...(this.pools.get(pool)?.backends.values() ?? [])].map((b) => structuredClone(b));
  }

  /** Mirrors BuiltinBalancer.frontendAddress: the listen address the pool was ensured with. */
  frontendAddress(pool: string): string {
    return this.pool(pool).listen;
  }

  hasPool(pool: string): boolean {
    return this.pools.has(pool);
  }

  callsOf(method: BalancerMethod): string[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  async ensurePool(pool: string, listen: string, healthPath: string, settings?: PoolSettings): Promise<void> {
    this.record('ensurePool', settings ? [pool, listen, healthPath, JSON.stringify(settings)] : [pool, listen, healthPath]);
    const p = this.pools.get(pool);
    if (p !== undefined) {
      p.listen = listen;
      p.healthPath = healthPath;
      return;
    }
    this.pools.set(pool, { listen, healthPath, backends: new Map(), scripted: new Map(), frontend: emptyStats(), noBackend: 0, failOpen: false, failOpenEntered: 0 });
  }

  async removePool(pool: string): Promise<void> {
    this.record('removePool', [pool]);
    this.pools.delete(pool);
  }

  async add(pool: string, id: string, address: string, via?: string): Promise<void> {
    this.record('add', via === undefined ? [pool, id, address] : [pool, id, address, via]);
    const p = this.pool(pool);
    const b = p.backends.get(id);
    if (b !== undefined && b.address === address) return;
    p.backends.set(id, { id, address, admin: 'ready', healthy: this.healthyOnAdd, active: 0, served: 0, failed: 0, downs: 0, stats: emptyStats() });
  }

  async setDrain(pool: string, id: string): Promise<void> {
    this.record('setDrain', [pool, id]);
    const b = this.pool(pool).backends.get(id);
    if (b === undefined) throw new GridhostError('GH_BACKEND_UNKNOWN', `backend ${id} is not registered in pool ${pool}`, { pool, id });
    b.admin = 'drain';
  }

  async remove(pool: string, id: string): Promise<void> {
    this.record('remove', [pool, id]);
    const p = this.pools.get(pool);
    p?.backends.delete(id);
    p?.scripted.delete(id);
  }

  async list(pool: string): Promise<BackendStatus[]> {
    this.record('list', [pool]);
    const p = this.pool(pool);
    for (const [id, values] of p.scripted) {
      const b = p.backends.get(id);
      if (b === undefined) continue;
      b.active = values.length > 1 ? values.shift()! : (values[0] ?? b.active);
    }
    return [...p.backends.values()].map((b) => ({ id: b.id, address: b.address, admin: b.admin, healthy: b.healthy, active: b.active, served: b.served, failed: b.failed }));
  }

  async serving(pool: string): Promise<PoolServing> {
    this.record('serving', [pool]);
    const p = this.pool(pool);
    return {
      pool,
      frontend: structuredClone(p.frontend),
      noBackend: p.noBackend,
      failOpen: p.failOpen,
      failOpenEntered: p.failOpenEntered,
      backends: [...p.backends.values()].map((b) => structuredClone({ ...b, stats: { ...b.stats, inFlight: b.active } })),
    };
  }

  async close(): Promise<void> {
    this.record('close', []);
    this.pools.clear();
  }

  private record(method: BalancerMethod, args: string[]): void {
    this.calls.push({ method, args });
    const err = this.injected.get(method)?.shift();
    if (err !== undefined) throw err;
  }

  private pool(pool: string): FakePool {
    const p = this.pools.get(pool);
    if (p === undefined) throw new GridhostError('GH_BALANCER_FAILED', `pool ${pool} has no front end on this balancer: call ensurePool first`, { pool });
    return p;
  }

  private backend(pool: string, id: string): BackendServing {
    const b = this.pools.get(pool)?.backends.get(id);
    if (b === undefined) throw new Error(`FakeBalancer: add ${pool}/${id} before setting its state`);
    return b;
  }
}
