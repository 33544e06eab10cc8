// The end of a guest's lifecycle (guest-lifecycle.ts): healthy -> draining -> stopping -> gone
// for a retirement (a before_retire hook first, then drain, deregister, stop, delete the clone),
// or -> stopping -> failed for the cleanup of a half-made guest. Each step is attempted even if an
// earlier one failed; a guest whose step failed stays `stopping`, to be tried again.
import type { Guest } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import { driverFence, type ActingFence } from './acting-fence.ts';
import type { GuestSteps } from './guest-steps.ts';
import { drainGuest, type MembershipDeps } from './balancer-membership.ts';

/**
 * Drain and stop limits for a guest whose pool has no policy any more (an operator retiring an
 * unmanaged pool after a restart): the policy defaults (guest.drain_timeout, guest.stop_timeout).
 */
export const UNMANAGED_DRAIN_TIMEOUT_MS = 30_000;
export const UNMANAGED_STOP_TIMEOUT_MS = 10_000;

export interface TeardownDeps {
  clock: Clock;
  telemetry: Telemetry;
  balancer: Balancer;
  hypervisorFor: (driver: string) => Hypervisor;
  steps: GuestSteps;
  membership: () => MembershipDeps;
}

export class GuestTeardown {
  constructor(private readonly d: TeardownDeps) {}

  /**
   * healthy -> draining -> stopping -> gone. Cleanup continues past errors; the first is rethrown.
   * `policy` is the pool's policy in force, or the last one known for an unmanaged pool, or
   * undefined (the policy defaults' drain and stop limits apply, and no hooks run).
   * A before_retire hook runs first, while the guest still serves (draining, so a restart
   * finishes the retirement); when it fails with on_failure abandon the guest goes back to
   * healthy (the same fenced compare-and-set) and this rejects GH_HOOK_FAILED.
   */
  async retire(g: Guest, policy: Policy | undefined, reason: string, fence?: ActingFence): Promise<void> {
    const t0 = this.d.clock.now();
    let outcome: 'ok' | 'failed' = 'ok';
    try {
      const from = g.state;
      const since = g.updatedAt;
      g = await this.d.steps.transition(g, 'draining', {}, fence);
      if (from !== 'draining') this.d.steps.moved(g, 'retire', from, since, {}, reason);
      const drainingSince = this.d.clock.now();
      const draining: Record<string, number> = {};
      if (!(await this.d.steps.runHook('before_retire', g, policy, draining, fence))) {
        g = await this.d.steps.transition(g, 'healthy', {}, fence);
        this.d.steps.moved(g, 'before_retire', 'draining', drainingSince, draining, 'hook before_retire failed (on_failure: abandon): the guest stays in service');
        throw new GridhostError('GH_HOOK_FAILED', `hook before_retire failed for ${g.id} (on_failure: abandon): the guest stays in service`, { guest: g.id, hook: 'before_retire' });
      }
      // A failed drain must not leave the guest `draining` (in flight) for ever: that would hold
      // every later decision for the pool. Stop it anyway, as a drain timeout does.
      let first: unknown;
      await this.d.steps.step(g, 'drain', draining, () => drainGuest(this.d.membership(), g, policy?.guest.drainTimeoutMs ?? UNMANAGED_DRAIN_TIMEOUT_MS), fence, false).catch((e: unknown) => { first = e; });
      await this.stopAndDelete(g, policy, reason, 'gone', { action: 'drain', since: drainingSince, stepsMs: draining }, fence).catch((e: unknown) => { first ??= e; });
      if (first !== undefined) throw first;
    } catch (e) {
      outcome = 'failed';
      throw e;
    } finally {
      this.d.telemetry.retired(g.pool, outcome, (this.d.clock.now() - t0) / 1000);
    }
  }

  /**
   * Remove from the balancer, stop, delete the clone; the guest ends in `final`.
   * Each step is attempted even if an earlier one failed; the guest stays `stopping` (to be
   * retried by the pool loop, or by the reconciler after a restart) only when a step failed.
   */
  async finish(g: Guest, policy: Policy | undefined, reason: string, final: 'gone' | 'failed', fence?: ActingFence): Promise<void> {
    const since = g.updatedAt;
    await this.stopAndDelete(g, policy, reason, final, { action: final === 'failed' ? 'cleanup' : 'finish', since, stepsMs: {} }, fence);
  }

  /** finish(), entered from the state the guest is in by `entered` (what ended that state). */
  private async stopAndDelete(
    g: Guest, policy: Policy | undefined, reason: string, final: 'gone' | 'failed',
    entered: { action: string; since: number; stepsMs: Record<string, number> }, fence?: ActingFence,
  ): Promise<void> {
    const from = g.state;
    g = await this.d.steps.transition(g, 'stopping', {}, fence);
    // A guest already stopping (a cleanup tried again) does not enter it again.
    if (from !== 'stopping') this.d.steps.moved(g, entered.action, from, entered.since, entered.stepsMs, entered.action === 'drain' ? undefined : reason);
    const stoppingSince = g.updatedAt;
    const stopping: Record<string, number> = {};
    const errors: GridhostError[] = [];
    const attempt = async (action: string, fn: () => Promise<void>) => {
      try {
        await this.d.steps.step(g, action, stopping, fn, fence);
      } catch (e) {
        errors.push(wrapError('GH_STOP_FAILED', e));
      }
    };
    const stopTimeout = policy?.guest.stopTimeoutMs ?? UNMANAGED_STOP_TIMEOUT_MS;
    await attempt('deregister', () => this.d.balancer.remove(g.pool, g.id));
    const hv = this.d.hypervisorFor(g.driver);
    await attempt('stop', () => hv.stop(g, stopTimeout, driverFence(fence)));
    await attempt('delete-clone', () => hv.deleteClone(g, driverFence(fence)));
    if (errors.length > 0) {
      await this.d.steps.transition(g, 'stopping', { error: errors.map((e) => e.message).join('; ') }, fence);
      throw errors[0];
    }
    this.d.steps.note(g.id, { at: this.d.clock.now(), action: final === 'gone' ? 'retired' : 'cleaned-up', outcome: 'ok', durationMs: 0, detail: reason });
    g = await this.d.steps.transition(g, final, final === 'failed' ? { error: reason } : {}, fence);
    this.d.telemetry.forgetGuest(g.pool, g.id);
    this.d.steps.moved(g, final === 'gone' ? 'retired' : 'cleaned-up', 'stopping', stoppingSince, stopping, reason);
  }

  /** Undo a half-made guest; never throws (a failed cleanup leaves it `stopping` to be retried). */
  async cleanup(g: Guest, policy: Policy | undefined, reason: string, fence?: ActingFence): Promise<void> {
    try {
      await this.finish(g, policy, reason, 'failed', fence);
    } catch (e) {
      this.d.telemetry.error('cleanup of a failed guest did not complete; it is retried while it stays stopping', {
        pool: g.pool, guest: g.id, error: wrapError('GH_STOP_FAILED', e).message,
      });
    }
  }
}
