// When the HAProxy driver reconciles: dynamic servers do not survive an HAProxy reload or
// restart, so every `reconcileMs` each pool's backend is compared with what gridhost registered
// (backend-sync.ts), and sooner when the cheap `show info` watch (every `watchMs`) sees a new
// HAProxy worker, or while a pool is blocked. A pass first checks the socket answers at level
// admin; if not, every pool is blocked with what to change in haproxy.cfg. One pass at a time.
import { GridhostError, wrapError } from '../../../errors/errors.ts';
import type { BackendSync } from './backend-sync.ts';
import type { Emit, PoolEntry } from './pool-entry.ts';
import type { HaproxyRuntime } from './runtime-api.ts';

export interface ReconcileLoopDeps {
  rt: HaproxyRuntime;
  pools: ReadonlyMap<string, PoolEntry>;
  sync: BackendSync;
  emit: Emit;
  reconcileMs: number;
  /** At most reconcileMs. */
  watchMs: number;
}

export class ReconcileLoop {
  private lastFullAt = 0;
  private worker?: { pid: number; level: string };
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private closed = false;

  constructor(private readonly d: ReconcileLoopDeps) {}

  /** One reconcile pass now (after any running one). */
  async reconcileNow(): Promise<void> {
    while (this.ticking) await this.ticking;
    this.ticking = this.tick().finally(() => (this.ticking = undefined));
    await this.ticking;
  }

  /** Once the pass running now (if any) has ended. */
  async settled(): Promise<void> {
    await this.ticking;
  }

  /** The watch's next look, unless one is due already or the loop is closed. */
  schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.watch().finally(() => this.schedule());
    }, this.d.watchMs);
    this.timer.unref();
  }

  /** No more passes; resolves once the running one has ended. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  /** A full reconcile when one is due or HAProxy's worker changed; else nothing. */
  private async watch(): Promise<void> {
    if (Date.now() - this.lastFullAt >= this.d.reconcileMs || this.blockedAny()) return this.reconcileNow();
    try {
      const info = await this.d.rt.info();
      if (info.pid !== this.worker?.pid) await this.reconcileNow();
    } catch {
      await this.reconcileNow(); // reports the pools blocked
    }
  }

  private blockedAny(): boolean {
    for (const p of this.d.pools.values()) if (p.blocked) return true;
    return false;
  }

  private async tick(): Promise<void> {
    const { rt, pools, sync } = this.d;
    this.lastFullAt = Date.now();
    if (pools.size === 0) return;
    try {
      const info = await rt.info();
      if (this.worker?.pid !== info.pid) {
        const level = await rt.cliLevel();
        if (this.worker !== undefined) this.d.emit({ kind: 'restarted', detail: `HAProxy worker pid ${this.worker.pid} -> ${info.pid}: its dynamic servers are gone until gridhost adds them again` });
        this.worker = { pid: info.pid, level };
      }
      if (this.worker.level !== 'admin') {
        const e = new GridhostError('GH_HAPROXY_NOT_ADMIN', `HAProxy's stats socket ${rt.where} is at level "${this.worker.level}"`, { socket: rt.where, level: this.worker.level });
        for (const p of pools.values()) sync.block(p, e);
        this.worker = undefined; // ask again next time: a reload may fix it
        return;
      }
    } catch (e) {
      this.worker = undefined;
      for (const p of pools.values()) sync.block(p, wrapError('GH_HAPROXY_UNREACHABLE', e));
      return;
    }
    for (const p of [...pools.values()]) await sync.syncPool(p);
  }
}
