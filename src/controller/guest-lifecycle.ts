// Launch and retire one guest, step by step. The guest's state is written to the store
// *before* each step is attempted, so that after a crash the reconciler knows exactly which
// step to undo or finish (see reconciler.ts). Every failure path cleans up what the failed
// step and the earlier ones made: no guest, clone or balancer entry is leaked.
//
// Telemetry: one transition report per state written (none -> cloning -> booting -> healthy,
// healthy -> draining -> stopping -> gone, ... -> stopping -> failed), carrying the time spent
// in the state left and what its steps took; the steps inside a state (boot, health,
// deregister, stop, delete-clone) are reported as detail, and any step that fails as such.
//
// History: every step and hook lands in the guest's bounded `history` with its outcome and
// duration, carried by the guest's next state write (guest-steps.ts). The retirement and
// cleanup steps are guest-teardown.ts's, the balancer's side balancer-membership.ts's.
import { randomBytes } from 'node:crypto';
import type { Guest } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { HookRunner } from '../drivers/hooks/hook-runner.ts';
import { canPause, type GuestSpec, type Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { closedHostsOf } from '../decision/evacuation-plan.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import type { Store } from '../store/store.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import { driverFence, fenceData, type ActingFence } from './acting-fence.ts';
import { GuestSteps } from './guest-steps.ts';
import { GuestTeardown } from './guest-teardown.ts';
import { registerGuest, type MembershipDeps } from './balancer-membership.ts';

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
  /** Runs the policy's lifecycle hooks; needed only by pools that have hooks. */
  hooks?: HookRunner;
  /** How often to poll the balancer while waiting for registration or drain. */
  pollMs?: number;
  /**
   * The host whose connection the balancer's route to the guest goes through (its dom0, when
   * the guest network is reached over SSH); undefined = the guest's address is dialled directly.
   */
  routeVia?: (g: Guest) => string | undefined;
  /** Test hook (kill tests): awaited before each named step (clone, boot, health, register, drain,
   *  deregister, stop, delete-clone) is attempted. Never set in production. */
  pauseAt?: (step: string, guest: Guest) => Promise<void>;
}

/** Timings of one launch, for the benchmark's breakdown. */
export interface LaunchTimings {
  cloneMs: number;
  /** A warm guest's: its unpause. */
  bootMs: number;
  healthMs: number;
  registerMs: number;
  /** Taken from the warm pool (unpaused) rather than cloned and booted. */
  warm?: boolean;
}

export function newGuestId(pool: string, random: () => string = () => randomBytes(4).toString('hex')): string {
  return `${pool}-${random()}`;
}

export class GuestLifecycle {
  /** Each step recorded in the guest's history and reported (guest-steps.ts). */
  private readonly s: GuestSteps;
  private readonly teardown: GuestTeardown;

  constructor(private readonly d: LifecycleDeps) {
    this.s = new GuestSteps(d);
    this.teardown = new GuestTeardown({ ...d, steps: this.s, membership: () => this.membership() });
  }

  /** What registering and draining at the balancer need (balancer-membership.ts). */
  private membership(): MembershipDeps {
    return { balancer: this.d.balancer, clock: this.d.clock, telemetry: this.d.telemetry, pollMs: this.d.pollMs ?? 100, routeVia: (g) => this.routeVia(g) };
  }

  /** A scale-out decided at `decidedAt` has one more guest serving now, taken from the warm
   *  pool or launched cold (gridhost_scale_out_guests_total, ..._to_serving_seconds). */
  served(pool: string, path: 'warm' | 'cold', decidedAt: number): void {
    this.d.telemetry.scaleOutServed?.(pool, path, Math.max(0, this.d.clock.now() - decidedAt) / 1000);
  }

  /** Said when a warm guest could not be taken and a cold launch replaces it. */
  warmTakeFailed(g: Guest, err: GridhostError): void {
    this.d.telemetry.warn('a warm guest could not be taken; launching a guest cold instead', { pool: g.pool, guest: g.id, code: err.code, error: err.message });
  }

  /** The driver of a pool or guest, and the clock (the vertical steps use them, vertical.ts; the
   *  actuator times decision to serving with it). */
  hypervisor(driver: string): Hypervisor {
    return this.d.hypervisorFor(driver);
  }
  now(): number {
    return this.d.clock.now();
  }

  /** What the balancer is given with the guest's address: the host the route goes through, if any. */
  routeVia(g: Guest): string | undefined {
    return this.d.routeVia?.(g);
  }

  /**
   * cloning -> booting -> healthy. On failure the guest is cleaned up and left `failed`, and the
   * error is rethrown (the caller counts it for the circuit breaker). `meta` starts the record's
   * meta (a replacement names the sick guest it replaces).
   */
  async launch(policy: Policy, id: string = newGuestId(policy.pool), fence?: ActingFence, meta: Record<string, string> = {}): Promise<{ guest: Guest; timings: LaunchTimings }> {
    const now = this.d.clock.now();
    const hv = this.d.hypervisorFor(policy.guest.driver);
    let g: Guest = { id, pool: policy.pool, state: 'cloning', driver: hv.name, host: '', createdAt: now, updatedAt: now, meta: { ...meta } };
    const df = driverFence(fence);
    const spec: GuestSpec = { id, pool: policy.pool, policy, ...(df ? { fence: df } : {}) };
    const timings: LaunchTimings = { cloneMs: 0, bootMs: 0, healthMs: 0, registerMs: 0 };
    const t0 = now;
    try {
      fence?.check();
      g = await this.d.store.saveGuest(g, fenceData(fence));
      this.s.moved(g, 'launch', 'none', now);
      // Hosts an operator closed (drain-host) take no new guest: read fresh for every launch.
      const closed = closedHostsOf(await this.d.store.listHosts());
      if (closed.size > 0) spec.avoidHosts = [...closed].sort();
      const cloning: Record<string, number> = {};
      const cloned = await this.s.step(g, 'clone', cloning, () => hv.clone(spec), fence, false);
      timings.cloneMs = cloning.clone!;
      // Known facts go into `g` before the store write: if that write fails, cleanup still
      // needs them (the clone's path, the pid) to undo what the driver made.
      g = { ...g, meta: { ...g.meta, ...cloned.meta }, host: cloned.host ?? g.host, address: cloned.address ?? g.address };
      g = await this.s.transition(g, 'booting', {}, fence);
      this.s.moved(g, 'clone', 'cloning', now, cloning);

      const bootingSince = this.d.clock.now();
      const booting: Record<string, number> = {};
      const booted = await this.s.step(g, 'boot', booting, () => hv.boot(spec, g.meta), fence);
      timings.bootMs = booting.boot!;
      g = { ...g, meta: { ...g.meta, ...booted.meta }, host: booted.host ?? g.host, address: booted.address ?? g.address };
      g = await this.s.transition(g, 'booting', {}, fence); // what boot made (pid, domid), same state

      await this.s.step(g, 'health', booting, () => this.d.waitHealthy(g, policy), fence);
      timings.healthMs = booting.health!;
      if (!(await this.s.runHook('before_register', g, policy, booting, fence))) {
        throw new GridhostError('GH_HOOK_FAILED', `hook before_register failed for ${g.id} (on_failure: abandon): the guest is not registered`, { guest: g.id, hook: 'before_register' });
      }
      await this.s.step(g, 'register', booting, () => registerGuest(this.membership(), g, policy), fence, false);
      timings.registerMs = booting.register!;
      g = await this.s.transition(g, 'healthy', { healthyAt: this.d.clock.now() }, fence);
      this.s.moved(g, 'register', 'booting', bootingSince, booting);
      this.d.telemetry.provisioned(policy.pool, 'ok', (this.d.clock.now() - t0) / 1000);
      return { guest: g, timings };
    } catch (e) {
      const err = wrapError('GH_BOOT_FAILED', e, { guest: id });
      this.d.telemetry.provisioned(policy.pool, 'failed', (this.d.clock.now() - t0) / 1000);
      await this.cleanup(g, policy, `launch failed: ${err.message}`, fence);
      throw err;
    }
  }

  /**
   * none -> warming -> warm: a guest for the pool's warm pool, made as a launch makes one (clone,
   * boot, health) and then paused instead of registered. Neither state counts or holds the pool's
   * decisions. On failure it is cleaned up (record `failed`) and the error rethrown.
   */
  async makeWarm(policy: Policy, id: string = newGuestId(policy.pool), fence?: ActingFence): Promise<Guest> {
    const now = this.d.clock.now();
    const hv = this.d.hypervisorFor(policy.guest.driver);
    let g: Guest = { id, pool: policy.pool, state: 'warming', driver: hv.name, host: '', createdAt: now, updatedAt: now, meta: {} };
    const df = driverFence(fence);
    const spec: GuestSpec = { id, pool: policy.pool, policy, ...(df ? { fence: df } : {}) };
    try {
      if (!canPause(hv)) throw new GridhostError('GH_TEMPLATE_INVALID', `hypervisor driver ${hv.name} cannot pause guests, so pool ${policy.pool} cannot keep a warm pool`, { guest: id });
      fence?.check();
      g = await this.d.store.saveGuest(g, fenceData(fence));
      this.s.moved(g, 'make-warm', 'none', now, {}, 'warm pool below its size');
      const closed = closedHostsOf(await this.d.store.listHosts());
      if (closed.size > 0) spec.avoidHosts = [...closed].sort();
      const took: Record<string, number> = {};
      const merge = (r: { meta: Record<string, string>; host?: string; address?: string }) => {
        g = { ...g, meta: { ...g.meta, ...r.meta }, host: r.host ?? g.host, address: r.address ?? g.address };
      };
      // Each step's facts are written before the next step, as a launch's are.
      merge(await this.s.step(g, 'clone', took, () => hv.clone(spec), fence));
      g = await this.s.transition(g, 'warming', {}, fence);
      merge(await this.s.step(g, 'boot', took, () => hv.boot(spec, g.meta), fence));
      g = await this.s.transition(g, 'warming', {}, fence);
      await this.s.step(g, 'health', took, () => this.d.waitHealthy(g, policy), fence);
      merge(await this.s.step(g, 'pause', took, () => hv.pause(g, df), fence));
      g = await this.s.transition(g, 'warm', {}, fence);
      this.s.moved(g, 'pause', 'warming', now, took);
      return g;
    } catch (e) {
      const err = wrapError('GH_BOOT_FAILED', e, { guest: id });
      await this.cleanup(g, policy, `making a warm guest failed: ${err.message}`, fence);
      throw err;
    }
  }

  /**
   * warm -> booting -> healthy: a scale-out (or a replacement, replacement-launch.ts) takes a warm
   * guest: unpause, health, before_register, register. `booting` is written first (a
   * compare-and-set: GH_STALE_WRITE when another process or the warm pool's trim changed it
   * meanwhile; nothing else is done then), so from here it counts and is in flight as any launch,
   * and a restart undoes a take cut short. On a later failure it is cleaned up (record `failed`)
   * and the error rethrown. `meta` joins the record's meta in that first write (a replacement
   * names the sick guest it replaces, as launch()'s meta does); `why` is the transition's reason.
   */
  async takeWarm(warm: Guest, policy: Policy, fence?: ActingFence, meta: Record<string, string> = {}, why = 'scale-out took a warm guest'): Promise<{ guest: Guest; timings: LaunchTimings }> {
    const t0 = this.d.clock.now();
    const hv = this.d.hypervisorFor(warm.driver);
    let g = await this.s.transition(warm, 'booting', Object.keys(meta).length > 0 ? { meta: { ...warm.meta, ...meta } } : {}, fence);
    this.s.moved(g, 'take-warm', 'warm', warm.updatedAt, {}, why);
    const timings: LaunchTimings = { cloneMs: 0, bootMs: 0, healthMs: 0, registerMs: 0, warm: true };
    try {
      if (!canPause(hv)) throw new GridhostError('GH_BOOT_FAILED', `hypervisor driver ${hv.name} cannot unpause guests`, { guest: g.id });
      const booting: Record<string, number> = {};
      const r = await this.s.step(g, 'unpause', booting, () => hv.unpause(g, driverFence(fence)), fence);
      timings.bootMs = booting.unpause!;
      g = await this.s.transition(g, 'booting', { meta: { ...g.meta, ...r.meta } }, fence);
      // No readiness wait of gridhost's own here: the guest passed it before it was paused, and
      // register() waits for the balancer's own health check, which a guest that did not come
      // back fails (then it is cleaned up and a cold launch replaces it). One check, not two:
      // through a dom0's SSH channel each costs a second on a busy dom0.
      if (!(await this.s.runHook('before_register', g, policy, booting, fence))) {
        throw new GridhostError('GH_HOOK_FAILED', `hook before_register failed for ${g.id} (on_failure: abandon): the guest is not registered`, { guest: g.id, hook: 'before_register' });
      }
      await this.s.step(g, 'register', booting, () => registerGuest(this.membership(), g, policy), fence, false);
      timings.registerMs = booting.register!;
      g = await this.s.transition(g, 'healthy', { healthyAt: this.d.clock.now() }, fence);
      this.s.moved(g, 'register', 'booting', t0, booting);
      this.d.telemetry.provisioned(policy.pool, 'ok', (this.d.clock.now() - t0) / 1000);
      return { guest: g, timings };
    } catch (e) {
      const err = wrapError('GH_BOOT_FAILED', e, { guest: g.id });
      this.d.telemetry.provisioned(policy.pool, 'failed', (this.d.clock.now() - t0) / 1000);
      await this.cleanup(g, policy, `taking a warm guest failed: ${err.message}`, fence);
      throw err;
    }
  }

  /**
   * none -> booting -> healthy for a running guest nobody recorded (policy unknown_guests:
   * adopt): recorded (a create: refused with GH_STALE_WRITE if a record appeared meanwhile),
   * then the last steps of a launch, health and register, must pass. On failure it is cleaned
   * up like a failed launch (stopped, clone deleted, record `failed`) and the error rethrown.
   */
  async adopt(found: Pick<Guest, 'id' | 'pool' | 'driver' | 'host' | 'address' | 'meta'>, policy: Policy, fence?: ActingFence): Promise<Guest> {
    const now = this.d.clock.now();
    let g: Guest = { ...found, state: 'booting', createdAt: now, updatedAt: now };
    fence?.check();
    g = await this.d.store.saveGuest(g, fenceData(fence));
    this.s.moved(g, 'adopt', 'none', now, {}, 'running with no record; unknown_guests: adopt');
    try {
      const booting: Record<string, number> = {};
      await this.s.step(g, 'health', booting, () => this.d.waitHealthy(g, policy), fence);
      // What boot() sets from the policy (Xen: credit weight and cap) is not in the domain's
      // config: set it on the adopted guest too, before it serves.
      const applied = await this.s.step(g, 'reapply', booting, () => this.reapply(g, policy, fence), fence);
      await this.s.step(g, 'register', booting, () => registerGuest(this.membership(), g, policy), fence, false);
      g = await this.s.transition(g, 'healthy', { healthyAt: this.d.clock.now(), meta: { ...g.meta, ...applied } }, fence);
      this.s.moved(g, 'register', 'booting', now, booting);
      return g;
    } catch (e) {
      const err = wrapError('GH_BOOT_FAILED', e, { guest: g.id });
      await this.cleanup(g, policy, `adoption failed: ${err.message}`, fence);
      throw err;
    }
  }

  /** The policy's settings on a running guest again (Hypervisor.reapply); {} for a driver without. */
  async reapply(g: Guest, policy: Policy, fence?: ActingFence): Promise<Record<string, string>> {
    const hv = this.d.hypervisorFor(g.driver);
    return hv.reapply ? hv.reapply(g, policy, driverFence(fence)) : {};
  }

  /** A guest moved live to another host (evacuation): where the balancer reaches it through its
   *  host, or its address changed, it is registered again at the new place. */
  async rehome(before: Guest, after: Guest, policy: Policy): Promise<void> {
    if (this.routeVia(before) === this.routeVia(after) && before.address === after.address) return;
    await this.d.balancer.remove(after.pool, after.id);
    await registerGuest(this.membership(), after, policy);
  }

  /**
   * healthy -> draining -> stopping -> gone (guest-teardown.ts). Cleanup continues past errors;
   * the first is rethrown. `policy` is the pool's policy in force, or the last one known for an
   * unmanaged pool, or undefined (the policy defaults' drain and stop limits apply, and no hooks run).
   */
  retire(g: Guest, policy: Policy | undefined, reason: string, fence?: ActingFence): Promise<void> {
    return this.teardown.retire(g, policy, reason, fence);
  }

  /** Remove from the balancer, stop, delete the clone; the guest ends in `final` (guest-teardown.ts). */
  finish(g: Guest, policy: Policy | undefined, reason: string, final: 'gone' | 'failed', fence?: ActingFence): Promise<void> {
    return this.teardown.finish(g, policy, reason, final, fence);
  }

  /** Undo a half-made guest; never throws (a failed cleanup leaves it `stopping` to be retried). */
  cleanup(g: Guest, policy: Policy | undefined, reason: string, fence?: ActingFence): Promise<void> {
    return this.teardown.cleanup(g, policy, reason, fence);
  }
}
