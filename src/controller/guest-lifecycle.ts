// Launch and retire one guest, step by step. The guest's state is written to the store
// *before* each step is attempted, so that after a crash the reconciler knows exactly which
// step to undo or finish (see reconciler.ts). Every failure path cleans up what the failed
// step and the earlier ones made: no guest, clone or balancer entry is leaked.
import { randomBytes } from 'node:crypto';
import type { Guest, GuestState } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import { waitDrained } from '../drivers/balancer/wait-drained.ts';
import type { Store } from '../store/store.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';

/** Waits until the guest's own health endpoint answers; rejects GH_HEALTH_TIMEOUT. */
export type HealthWaiter = (guest: Guest, policy: Policy, signal?: AbortSignal) => Promise<void>;

export interface LifecycleDeps {
  store: Store;
  /** The driver named by a policy (`guest.driver`) or a stored guest (`driver`). */
  hypervisorFor: (driver: string) => Hypervisor;
  balancer: Balancer;
  clock: Clock;
  telemetry: Telemetry;
  waitHealthy: HealthWaiter;
  /** How often to poll the balancer while waiting for registration or drain. */
  pollMs?: number;
}

/** Timings of one launch, for the benchmark's breakdown. */
export interface LaunchTimings {
  cloneMs: number;
  bootMs: number;
  healthMs: number;
  registerMs: number;
}

export function newGuestId(pool: string, random: () => string = () => randomBytes(4).toString('hex')): string {
  return `${pool}-${random()}`;
}

export class GuestLifecycle {
  constructor(private readonly d: LifecycleDeps) {}

  private get pollMs(): number {
    return this.d.pollMs ?? 100;
  }

  /** Move the guest to `to` in the store (durably) before the step that state names begins. */
  private async transition(g: Guest, to: GuestState, patch: Partial<Guest> = {}): Promise<Guest> {
    const next: Guest = { ...g, ...patch, state: to, updatedAt: this.d.clock.now() };
    await this.d.store.putGuest(next);
    return next;
  }

  private async step<T>(g: Guest, action: string, from: GuestState | 'none', to: GuestState, fn: () => Promise<T>): Promise<T> {
    const started = this.d.clock.now();
    try {
      const r = await fn();
      this.d.telemetry.guestStep({ pool: g.pool, guest: g.id, action, from, to, durationMs: this.d.clock.now() - started });
      return r;
    } catch (e) {
      const err = wrapError('GH_INTERNAL', e);
      this.d.telemetry.guestStep({
        pool: g.pool, guest: g.id, action, from, to: 'failed', durationMs: this.d.clock.now() - started,
        error: { code: err.code, message: err.message },
      });
      throw err;
    }
  }

  /**
   * cloning -> booting -> healthy. On failure the guest is cleaned up and left `failed`, and the
   * error is rethrown (the caller counts it for the circuit breaker).
   */
  async launch(policy: Policy, id: string = newGuestId(policy.pool)): Promise<{ guest: Guest; timings: LaunchTimings }> {
    const now = this.d.clock.now();
    const hv = this.d.hypervisorFor(policy.guest.driver);
    let g: Guest = { id, pool: policy.pool, state: 'cloning', driver: hv.name, host: '', createdAt: now, updatedAt: now, meta: {} };
    const spec = { id, pool: policy.pool, policy };
    const timings: LaunchTimings = { cloneMs: 0, bootMs: 0, healthMs: 0, registerMs: 0 };
    const t0 = now;
    try {
      await this.d.store.putGuest(g);
      let t = this.d.clock.now();
      const cloned = await this.step(g, 'clone', 'none', 'booting', () => hv.clone(spec));
      timings.cloneMs = this.d.clock.now() - t;
      // Known facts go into `g` before the store write: if that write fails, cleanup still
      // needs them (the clone's path, the pid) to undo what the driver made.
      g = { ...g, meta: { ...g.meta, ...cloned.meta }, host: cloned.host ?? g.host, address: cloned.address ?? g.address };
      g = await this.transition(g, 'booting');

      t = this.d.clock.now();
      const booted = await this.step(g, 'boot', 'booting', 'booting', () => hv.boot(spec, g.meta));
      timings.bootMs = this.d.clock.now() - t;
      g = { ...g, meta: { ...g.meta, ...booted.meta }, host: booted.host ?? g.host, address: booted.address ?? g.address };
      g = await this.transition(g, 'booting');

      t = this.d.clock.now();
      await this.step(g, 'health', 'booting', 'booting', () => this.d.waitHealthy(g, policy));
      timings.healthMs = this.d.clock.now() - t;

      t = this.d.clock.now();
      await this.step(g, 'register', 'booting', 'healthy', () => this.register(g, policy));
      timings.registerMs = this.d.clock.now() - t;
      g = await this.transition(g, 'healthy', { healthyAt: this.d.clock.now() });
      this.d.telemetry.provisioned(policy.pool, 'ok', (this.d.clock.now() - t0) / 1000);
      return { guest: g, timings };
    } catch (e) {
      const err = wrapError('GH_BOOT_FAILED', e, { guest: id });
      this.d.telemetry.provisioned(policy.pool, 'failed', (this.d.clock.now() - t0) / 1000);
      await this.cleanup(g, policy, `launch failed: ${err.message}`);
      throw err;
    }
  }

  /** Add to the balancer and wait until the balancer's own health check routes to it. */
  private async register(g: Guest, policy: Policy): Promise<void> {
    if (!g.address) throw new GridhostError('GH_BOOT_FAILED', `guest ${g.id} has no address after boot`);
    await this.d.balancer.add(policy.pool, g.id, g.address);
    const deadline = this.d.clock.now() + policy.guest.bootTimeoutMs;
    for (;;) {
      const b = (await this.d.balancer.list(policy.pool)).find((x) => x.id === g.id);
      if (b?.healthy) return;
      if (this.d.clock.now() >= deadline) {
        throw new GridhostError('GH_HEALTH_TIMEOUT', `balancer health check for ${g.id} at ${g.address} did not pass within ${policy.guest.bootTimeoutMs} ms`, { guest: g.id });
      }
      await this.d.clock.sleep(this.pollMs);
    }
  }

  /** healthy -> draining -> stopping -> gone. Cleanup continues past errors; the first is rethrown. */
  async retire(g: Guest, policy: Policy, reason: string): Promise<void> {
    const t0 = this.d.clock.now();
    let outcome: 'ok' | 'failed' = 'ok';
    try {
      g = await this.transition(g, 'draining');
      // A failed drain must not leave the guest `draining` (in flight) for ever: that would hold
      // every later decision for the pool. Stop it anyway, as a drain timeout does.
      let first: unknown;
      await this.step(g, 'drain', 'healthy', 'draining', () => this.drain(g, policy)).catch((e: unknown) => { first = e; });
      await this.finish(g, policy, reason, 'gone').catch((e: unknown) => { first ??= e; });
      if (first !== undefined) throw first;
    } catch (e) {
      outcome = 'failed';
      throw e;
    } finally {
      this.d.telemetry.retired(policy.pool, outcome, (this.d.clock.now() - t0) / 1000);
    }
  }

  private async drain(g: Guest, policy: Policy): Promise<void> {
    try {
      await this.d.balancer.setDrain(policy.pool, g.id);
    } catch (e) {
      // A backend the balancer no longer knows has nothing in flight: nothing to drain.
      if (e instanceof GridhostError && e.code === 'GH_BACKEND_UNKNOWN') return;
      throw e;
    }
    const r = await waitDrained(this.d.balancer, policy.pool, g.id, policy.guest.drainTimeoutMs, this.pollMs, this.d.clock);
    if (!r.drained) this.d.telemetry.warn('drain timed out; stopping with requests in flight', { pool: g.pool, guest: g.id, active: r.active });
  }

  /**
   * Remove from the balancer, stop, delete the clone; the guest ends in `final`.
   * Each step is attempted even if an earlier one failed; the guest stays `stopping` (to be
   * retried by the pool loop, or by the reconciler after a restart) only when a step failed.
   */
  async finish(g: Guest, policy: Policy | undefined, reason: string, final: 'gone' | 'failed'): Promise<void> {
    const from = g.state;
    g = await this.transition(g, 'stopping');
    const errors: GridhostError[] = [];
    const attempt = async (action: string, fn: () => Promise<void>) => {
      try {
        await this.step(g, action, from, 'stopping', fn);
      } catch (e) {
        errors.push(wrapError('GH_STOP_FAILED', e));
      }
    };
    const stopTimeout = policy?.guest.stopTimeoutMs ?? 10_000;
    await attempt('deregister', () => this.d.balancer.remove(g.pool, g.id));
    const hv = this.d.hypervisorFor(g.driver);
    await attempt('stop', () => hv.stop(g, stopTimeout));
    await attempt('delete-clone', () => hv.deleteClone(g));
    if (errors.length > 0) {
      await this.transition(g, 'stopping', { error: errors.map((e) => e.message).join('; ') });
      throw errors[0];
    }
    await this.transition(g, final, final === 'failed' ? { error: reason } : {});
    this.d.telemetry.forgetGuest(g.pool, g.id);
    this.d.telemetry.guestStep({ pool: g.pool, guest: g.id, action: final === 'gone' ? 'retired' : 'cleaned-up', from, to: final, durationMs: 0, reason });
  }

  /** Undo a half-made guest; never throws (a failed cleanup leaves it `stopping` to be retried). */
  async cleanup(g: Guest, policy: Policy | undefined, reason: string): Promise<void> {
    try {
      await this.finish(g, policy, reason, 'failed');
    } catch (e) {
      this.d.telemetry.error('cleanup of a failed guest did not complete; it is retried while it stays stopping', {
        pool: g.pool, guest: g.id, error: wrapError('GH_STOP_FAILED', e).message,
      });
    }
  }
}
