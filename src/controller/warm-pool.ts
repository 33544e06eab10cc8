// The warm pool of one pool (policy `warm_pool: { size: W }`): W guests kept made and paused,
// so a scale-out unpauses one (the actuator takes it: GuestLifecycle.takeWarm) instead of
// cloning and booting a guest. Warm and warming guests are in the store like any guest (their
// state is what a decision and a restart read), out of the balancer, not counted in the pool's
// size or its averages; they hold their host's memory (a Xen domain counts on its dom0).
//
// Each tick of the pool loop asks it to keep the target: guests missing are made in the
// background (GuestLifecycle.makeWarm: clone, boot, health, pause), warm guests above the
// target trimmed, stale ones (an old template or image, a drained host) retired and made again. It runs beside the loop's scale actions, not in their slot: refilling must not
// hold a scale-out. It does not start while the loop reconciles or an operator's action runs,
// and the loop does not reconcile while a refill runs (a guest being made is `warming`, which a
// reconciliation would undo as half-made).
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';
import { isStaleWarm, planWarmPool } from '../decision/warm-pool.ts';
import { wrapError, type GridhostError } from '../errors/errors.ts';
import type { ActingFence } from './acting-fence.ts';
import { newGuestId, type GuestLifecycle } from './guest-lifecycle.ts';
import type { Telemetry } from './telemetry.ts';

export interface WarmPoolDeps {
  lifecycle: GuestLifecycle;
  telemetry: Telemetry;
  fence?: ActingFence;
  /** Launch outcomes for the pool's circuit breaker: a template that cannot boot must not be
   *  made warm for ever. */
  recordLaunches: (launched: number, errors: readonly GridhostError[]) => void;
}

export class WarmPool {
  private readonly running = new Set<Promise<void>>();
  /** A refill (makes, then trims above the size) runs: one at a time. */
  private refilling = false;
  /** Stale warm guests being retired now (each once). */
  private readonly retiring = new Set<string>();

  constructor(private readonly pool: string, private readonly d: WarmPoolDeps) {}

  /** Whether a refill, a trim or a stale guest's retirement runs. */
  busy(): boolean {
    return this.running.size > 0;
  }

  /** Resolves once every refill and trim started has ended (they never reject). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /**
   * Keep the warm pool at the policy's size: start making the guests missing and trimming the
   * ones above it, unless `mayAct` is false (paused, recommending, breaker open, the loop busy
   * with a reconciliation or an operator's action, stopping) or a refill still runs. Stale warm
   * guests (`outdated`: made from another template or image; or on a `closed` host, drain-host)
   * are retired at once, beside a refill too: while one stays warm a scale-out or a replacement
   * could take it, and a drained host would never empty. Returns at once; the work runs in the
   * background.
   */
  tick(policy: Policy, guests: readonly Guest[], mayAct: boolean, outdated: ReadonlySet<string> = new Set(), closed: ReadonlySet<string> = new Set()): void {
    if (!mayAct) return;
    const fence = this.d.fence;
    for (const g of guests) {
      if (g.state !== 'warm' || !isStaleWarm(g, outdated, closed) || this.retiring.has(g.id)) continue;
      const why = closed.has(g.host) ? `warm guest on drained host ${g.host}` : 'warm guest made from another template or base image';
      this.retiring.add(g.id);
      this.background(this.retireWarm(g, policy, why, fence).finally(() => this.retiring.delete(g.id)));
    }
    if (this.refilling) return;
    const plan = planWarmPool(policy.warmPool?.size ?? 0, guests, outdated, closed);
    const trim = plan.trim.filter((g) => !isStaleWarm(g, outdated, closed));
    if (plan.make === 0 && trim.length === 0) return;
    const work = async (): Promise<void> => {
      const made = await Promise.allSettled(Array.from({ length: plan.make }, () => this.d.lifecycle.makeWarm(policy, newGuestId(policy.pool), fence)));
      const errors = made.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => wrapError('GH_BOOT_FAILED', r.reason));
      if (plan.make > 0) this.d.recordLaunches(plan.make - errors.length, errors);
      for (const e of errors) this.d.telemetry.warn('a warm guest could not be made', { pool: this.pool, code: e.code, error: e.message });
      for (const g of trim) await this.retireWarm(g, policy, `warm pool above its size (${policy.warmPool?.size ?? 0})`, fence);
    };
    this.refilling = true;
    this.background(work().finally(() => { this.refilling = false; }));
  }

  /** Retire one warm guest (stop, delete its clone) from `warm`: a compare-and-set, so one a
   *  scale-out took meanwhile is left to it. Never rejects; a failure is tried again later. */
  private async retireWarm(g: Guest, policy: Policy, why: string, fence?: ActingFence): Promise<void> {
    await this.d.lifecycle.finish(g, policy, why, 'gone', fence).catch((e: unknown) => {
      const err = wrapError('GH_STOP_FAILED', e);
      if (err.code !== 'GH_STALE_WRITE') this.d.telemetry.warn('a warm guest could not be retired; tried again later', { pool: this.pool, guest: g.id, why, code: err.code, error: err.message });
    });
  }

  private background(work: Promise<void>): void {
    const p: Promise<void> = work
      .catch((e: unknown) => this.d.telemetry.error('warm pool upkeep failed', { pool: this.pool, error: wrapError('GH_INTERNAL', e).message }))
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }
}
