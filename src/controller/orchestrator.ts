// Owns the pool loops: starts one per valid policy, swaps in reloaded policies, and stops
// managing a pool whose file was deleted (its guests keep running until an operator asks
// for them to be retired).
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';
import type { Store } from '../store/store.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import type { Actuator } from './actuator.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import { PoolLoop, type PoolStatus } from './pool-loop.ts';

export interface OrchestratorDeps {
  store: Store;
  balancer: Balancer;
  metrics: MetricsSource;
  actuator: Actuator;
  lifecycle: GuestLifecycle;
  clock: Clock;
  telemetry: Telemetry;
  isLost?: (g: Guest) => boolean;
}

export class Orchestrator {
  private readonly loops = new Map<string, PoolLoop>();
  private stopped = false;

  constructor(private readonly d: OrchestratorDeps) {}

  policies(): Map<string, Policy> {
    return new Map([...this.loops].map(([k, l]) => [k, l.status().policy]));
  }

  /** Prepare the balancer front end for a policy (before reconcile adopts guests into it). */
  async preparePool(p: Policy): Promise<void> {
    await this.d.balancer.ensurePool(p.pool, p.balancer.listen, p.guest.healthPath, { check: p.balancer.check, responseTimeoutMs: p.balancer.responseTimeoutMs });
  }

  /** Start managing a pool, or apply a changed policy to a managed one. */
  async apply(p: Policy): Promise<void> {
    if (this.stopped) return;
    const existing = this.loops.get(p.pool);
    if (existing) {
      const old = existing.status().policy;
      if (old.balancer.listen !== p.balancer.listen || old.guest.healthPath !== p.guest.healthPath) await this.preparePool(p);
      existing.updatePolicy(p);
      this.d.telemetry.info('policy reloaded', { pool: p.pool, file: p.file });
      return;
    }
    await this.preparePool(p);
    const rec = await this.d.store.getPool(p.pool);
    await this.d.store.upsertPool({
      pool: p.pool, file: p.file, managed: true, desired: rec?.desired ?? p.min,
      lastScaleOutAt: rec?.lastScaleOutAt, lastScaleInAt: rec?.lastScaleInAt, updatedAt: this.d.clock.now(),
    });
    const loop = new PoolLoop(p, { store: this.d.store, metrics: this.d.metrics, actuator: this.d.actuator, clock: this.d.clock, telemetry: this.d.telemetry, isLost: this.d.isLost });
    this.loops.set(p.pool, loop);
    loop.start();
    this.d.telemetry.info('managing pool', { pool: p.pool, file: p.file, min: p.min, max: p.max });
  }

  /** The policy file is gone: stop deciding for the pool, keep its guests and front end. */
  async unmanage(pool: string): Promise<void> {
    const loop = this.loops.get(pool);
    if (!loop) return;
    this.loops.delete(pool);
    await loop.stop();
    // A file that took the pool over (a rename) may have started a new loop meanwhile.
    if (this.loops.has(pool)) return;
    const rec = await this.d.store.getPool(pool);
    if (rec) await this.d.store.upsertPool({ ...rec, managed: false, updatedAt: this.d.clock.now() });
    this.d.telemetry.warn('policy removed: pool no longer managed; its guests keep running', { pool });
  }

  /** Operator's request: retire every guest of a pool that is no longer managed. */
  async retireUnmanaged(pool: string): Promise<{ retired: string[] }> {
    if (this.loops.has(pool)) {
      throw new GridhostError('GH_BAD_REQUEST', `pool ${pool} is managed by a policy; remove its policy file first`);
    }
    const guests = await this.d.store.listGuests({ pool, states: ['healthy', 'booting', 'cloning', 'draining', 'stopping'] });
    if (guests.length === 0 && !(await this.d.store.getPool(pool))) throw new GridhostError('GH_NOT_FOUND', `no pool named ${pool}`);
    const retired: string[] = [];
    for (const g of guests) {
      try {
        await this.d.lifecycle.finish(g, undefined, 'retired by operator after its policy was removed', 'gone');
        retired.push(g.id);
      } catch (e) {
        this.d.telemetry.error('could not retire guest', { pool, guest: g.id, error: wrapError('GH_STOP_FAILED', e).message });
      }
    }
    await this.d.balancer.removePool(pool).catch((e: unknown) => {
      this.d.telemetry.warn('could not close the pool\'s balancer front end; its port stays bound until gridhost restarts', { pool, error: wrapError('GH_BALANCER_FAILED', e).message });
    });
    this.d.telemetry.forgetPool(pool);
    return { retired };
  }

  status(pool: string): PoolStatus | undefined {
    return this.loops.get(pool)?.status();
  }

  loop(pool: string): PoolLoop | undefined {
    return this.loops.get(pool);
  }

  managedPools(): string[] {
    return [...this.loops.keys()].sort();
  }

  /** The balancer's view of the pool's backends (health, requests in flight and served). */
  async backends(pool: string) {
    return this.d.balancer.list(pool).catch(() => []);
  }

  async guests(pool: string): Promise<Guest[]> {
    return this.d.store.listGuests({ pool, states: ['cloning', 'booting', 'healthy', 'draining', 'stopping'] });
  }

  /** Stop all loops and wait for actions in flight. Guests keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
  }
}
