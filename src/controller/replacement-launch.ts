// The new guest of a replacement (auto-heal's, a hand-retire's below the pool's floor, an
// evacuation's replace-then-retire): a warm guest when one is ready (policy warm_pool), taken as a
// scale-out takes one (GuestLifecycle.takeWarm: unpause, the balancer's health check, register;
// the warm pool makes its successor at the loop's next tick), else a cold launch. A warm guest
// that cannot be taken (changed meanwhile, gone, failing the balancer's check) is cleaned up by
// takeWarm and a cold launch takes its place, as in a scale-out.
//
// A warm guest on a closed host (drain-host) is never taken: a cold launch is placed off closed
// hosts, and a replacement put there would only have to be moved again (or, for an evacuation,
// would not move anything off the host at all). `avoidHosts` adds hosts of the caller's own.
import type { Guest } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Store } from '../store/store.ts';
import { closedHostsOf } from '../decision/evacuation-plan.ts';
import { pickWarm } from '../decision/warm-pool.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { ActingFence } from './acting-fence.ts';
import type { GuestLifecycle, LaunchTimings } from './guest-lifecycle.ts';

export interface ReplacementOptions {
  fence?: ActingFence;
  /** Starts the new guest's meta (a heal's names the sick guest it replaces). */
  meta?: Record<string, string>;
  /** Hosts whose warm guests must not be taken, beyond the closed ones. */
  avoidHosts?: readonly string[];
  /** Said in the warm guest's take (its transition's reason). */
  why: string;
}

export class ReplacementLaunch {
  /** Warm guests one of this launcher's replacements is taking now: two replacements at once
   *  (auto-heal replaces several) take two warm guests, not the same one. */
  private readonly taking = new Set<string>();

  constructor(private readonly d: { store: Store; lifecycle: GuestLifecycle }) {}

  async launch(policy: Policy, o: ReplacementOptions): Promise<{ guest: Guest; timings: LaunchTimings }> {
    const meta = o.meta ?? {};
    const warm = await this.pick(policy, o.avoidHosts ?? []);
    if (warm) {
      try {
        return await this.d.lifecycle.takeWarm(warm, policy, o.fence, meta, o.why);
      } catch (e) {
        if (e instanceof GridhostError && (e.code === 'GH_FENCED' || e.code === 'GH_LEASE_LOST')) throw e;
        this.d.lifecycle.warmTakeFailed(warm, wrapError('GH_BOOT_FAILED', e));
      } finally {
        this.taking.delete(warm.id);
      }
    }
    return this.d.lifecycle.launch(policy, undefined, o.fence, meta);
  }

  /** The warm guest to take (oldest first, as a scale-out's), marked taken; none when none is
   *  warm off closed and avoided hosts. */
  private async pick(policy: Policy, avoid: readonly string[]): Promise<Guest | undefined> {
    const [guests, hosts] = await Promise.all([this.d.store.listGuests({ pool: policy.pool, states: ['warm'] }), this.d.store.listHosts()]);
    const closed = closedHostsOf(hosts);
    for (const h of avoid) closed.add(h);
    const [warm] = pickWarm(guests.filter((g) => !closed.has(g.host)), 1, this.taking);
    if (warm) this.taking.add(warm.id);
    return warm;
  }
}
