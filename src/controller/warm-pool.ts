// The warm pool of one pool (policy `warm_pool: { size: W }`): W guests kept made and paused,
// so a scale-out unpauses one (the actuator takes it: GuestLifecycle.takeWarm) instead of
// cloning and booting a guest. Warm and warming guests are in the store like any guest (their
// state is what a decision and a restart read), out of the balancer, not counted in the pool's
// size or its averages; they hold their host's memory (a Xen domain counts on its dom0).
//
// Each tick of the pool loop asks it to keep the target: guests missing are made in the
// background (GuestLifecycle.makeWarm: clone, boot, health, pause), warm guests above the
// target trimmed. It runs beside the loop's scale actions, not in their slot: refilling must not
// hold a scale-out. It does not start while the loop reconciles or an operator's action runs,
// and the loop does not reconcile while a refill runs (a guest being made is `warming`, which a
// reconciliation would undo as half-made).
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';
import { planWarmPool } from '../decision/warm-pool.ts';
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

  constructor(private readonly pool: string, private readonly d: WarmPoolDeps) {}

  /** Whether a refill or a trim runs. */
  busy(): boolean {
    return this.running.size > 0;
  }

  /** Resolves once every refill and trim started has ended (they never reject). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /**
   * Keep the warm pool at the policy's size: start making the guests missing and trimming the
   * ones above it (and `outdated` ones: made from another template or image), unless `mayAct` is false (paused, recommending, breaker open, the loop busy
   * with a reconciliation or an operator's action, stopping) or a batch still runs. Returns at
   * once; the work runs in the background.
   */
  tick(policy: Policy, guests: readonly Guest[], mayAct: boolean, outdated: ReadonlySet<string> = new Set()): void {
    if (!mayAct || this.busy()) return;
    const plan = planWarmPool(policy.warmPool?.size ?? 0, guests, outdated);
    if (plan.make === 0 && plan.trim.length === 0) return;
    const fence = this.d.fence;
    const work = async (): Promise<void> => {
      const made = await Promise.allSettled(Array.from({ length: plan.make }, () => this.d.lifecycle.makeWarm(policy, newGuestId(policy.pool), fence)));
      const errors = made.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => wrapError('GH_BOOT_FAILED', r.reason));
      if (plan.make > 0) this.d.recordLaunches(plan.make - errors.length, errors);
      for (const e of errors) this.d.telemetry.warn('a warm guest could not be made', { pool: this.pool, code: e.code, error: e.message });
      // Trimmed one at a time from `warm` (a compare-and-set: a guest a scale-out took meanwhile
      // is left to it).
      for (const g of plan.trim) {
        const why = outdated.has(g.id) ? 'warm guest made from another template or base image' : `warm pool above its size (${policy.warmPool?.size ?? 0})`;
        await this.d.lifecycle.finish(g, policy, why, 'gone', fence).catch((e: unknown) => {
          const err = wrapError('GH_STOP_FAILED', e);
          if (err.code !== 'GH_STALE_WRITE') this.d.telemetry.warn('a warm guest above the warm pool\'s size could not be retired; tried again later', { pool: this.pool, guest: g.id, code: err.code, error: err.message });
        });
      }
    };
    const p: Promise<void> = work()
      .catch((e: unknown) => this.d.telemetry.error('warm pool upkeep failed', { pool: this.pool, error: wrapError('GH_INTERNAL', e).message }))
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }
}
