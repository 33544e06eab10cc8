// One Balancer over the configured drivers: each pool is served by the driver its policy names
// (balancer.driver), and every call about a pool goes to that driver. The controller sees one
// balancer; run composes the set from the drivers gridhost.yaml configures.
import { GridhostError } from '../../errors/errors.ts';
import type { Balancer, BackendStatus, PoolServing, PoolSettings } from './balancer.ts';

export class BalancerSet implements Balancer {
  readonly name = 'set';
  private readonly byPool = new Map<string, Balancer>();

  /** `drivers`: name -> driver, the default first; `unconfigured(name)`: what to tell a policy naming one that is absent. */
  constructor(
    private readonly drivers: ReadonlyMap<string, Balancer>,
    private readonly unconfigured: (driver: string) => string = (d) => `balancer driver "${d}" is not configured`,
  ) {}

  /** The driver serving a pool, if it has one. */
  driverOf(pool: string): string | undefined {
    return this.byPool.get(pool)?.name;
  }

  /**
   * The driver the policy names takes the pool. A pool moving to another driver takes its
   * backends along (added to the new one first, then removed from the old one, whose front end
   * is then closed).
   */
  async ensurePool(pool: string, listen: string, healthPath: string, settings: PoolSettings = {}): Promise<void> {
    // A policy always names its driver; without one (hand-built settings) the first given serves.
    const name = settings.driver ?? this.drivers.keys().next().value ?? '';
    const d = this.drivers.get(name);
    if (!d) throw new GridhostError('GH_BALANCER_FAILED', `pool ${pool}: ${this.unconfigured(name)}`, { pool, driver: name });
    await d.ensurePool(pool, listen, healthPath, settings);
    const prev = this.byPool.get(pool);
    this.byPool.set(pool, d);
    if (prev === undefined || prev === d) return;
    const moving = await prev.list(pool).catch(() => [] as BackendStatus[]);
    for (const b of moving) {
      await d.add(pool, b.id, b.address);
      if (b.admin === 'drain') await d.setDrain(pool, b.id);
    }
    // removePool leaves an external balancer's servers in place: take them out first.
    for (const b of moving) await prev.remove(pool, b.id);
    await prev.removePool(pool);
  }

  async removePool(pool: string): Promise<void> {
    const d = this.byPool.get(pool);
    this.byPool.delete(pool);
    await d?.removePool(pool);
  }

  // async: an unknown pool rejects (the role's contract), it never throws synchronously.
  async add(pool: string, id: string, address: string, via?: string): Promise<void> {
    return this.of(pool).add(pool, id, address, via);
  }

  async setDrain(pool: string, id: string): Promise<void> {
    return this.of(pool).setDrain(pool, id);
  }

  /** A pool no driver serves (its policy is gone, after a restart): every driver forgets the backend. */
  async remove(pool: string, id: string): Promise<void> {
    const d = this.byPool.get(pool);
    if (d) return d.remove(pool, id);
    for (const x of this.drivers.values()) await x.remove(pool, id);
  }

  async list(pool: string): Promise<BackendStatus[]> {
    return this.of(pool).list(pool);
  }

  async serving(pool: string): Promise<PoolServing> {
    return this.of(pool).serving(pool);
  }

  blocked(pool: string): GridhostError | undefined {
    return this.byPool.get(pool)?.blocked?.(pool);
  }

  async close(): Promise<void> {
    for (const d of this.drivers.values()) await d.close();
  }

  private of(pool: string): Balancer {
    const d = this.byPool.get(pool);
    if (!d) throw new GridhostError('GH_BALANCER_FAILED', `pool ${pool} has no front end on any balancer: call ensurePool first`, { pool });
    return d;
  }
}
