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
// duration. Entries wait in memory until the guest's next state write, which carries them: the
// same compare-and-set, fenced write as the state itself, never a write of its own that could
// overwrite a newer record.
import { randomBytes } from 'node:crypto';
import { GUEST_HISTORY_MAX, type Guest, type GuestHistoryEntry, type GuestState } from '../domain/types.ts';
import type { HookName, Policy } from '../domain/policy.ts';
import type { HookRunner } from '../drivers/hooks/hook-runner.ts';
import { canPause, type GuestSpec, type Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { closedHostsOf } from '../decision/evacuation-plan.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import { waitDrained } from '../drivers/balancer/wait-drained.ts';
import type { Store } from '../store/store.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import { driverFence, fenceData, type ActingFence } from './acting-fence.ts';

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

/**
 * Drain and stop limits for a guest whose pool has no policy any more (an operator retiring an
 * unmanaged pool after a restart): the policy defaults (guest.drain_timeout, guest.stop_timeout).
 */
export const UNMANAGED_DRAIN_TIMEOUT_MS = 30_000;
export const UNMANAGED_STOP_TIMEOUT_MS = 10_000;

export function newGuestId(pool: string, random: () => string = () => randomBytes(4).toString('hex')): string {
  return `${pool}-${random()}`;
}

export class GuestLifecycle {
  /** History entries of steps since the guest's last store write; the next write carries them. */
  private readonly pending = new Map<string, GuestHistoryEntry[]>();

  constructor(private readonly d: LifecycleDeps) {}

  private note(id: string, e: GuestHistoryEntry): void {
    const list = this.pending.get(id) ?? [];
    list.push(e);
    this.pending.set(id, list);
  }

  private get pollMs(): number {
    return this.d.pollMs ?? 100;
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
   * Move the guest to `to` in the store (durably) before the step that state names begins: a
   * compare-and-set on the version `g` was read at, fenced by the pool's token. A refused write
   * (GH_STALE_WRITE: someone changed the guest since; GH_FENCED: another gridhost leads the
   * pool) is thrown as it is, and the step it guards is not attempted.
   */
  private async transition(g: Guest, to: GuestState, patch: Partial<Guest> = {}, fence?: ActingFence): Promise<Guest> {
    fence?.check();
    const next: Guest = { ...g, ...patch, state: to, updatedAt: this.d.clock.now() };
    // The steps since the last write join the history read with `g` (its version is the one
    // the compare-and-set checks: a record changed since is refused, not overwritten).
    const added = this.pending.get(g.id);
    if (added !== undefined) next.history = [...(g.history ?? []), ...added].slice(-GUEST_HISTORY_MAX);
    const saved = await this.d.store.saveGuest(next, fenceData(fence));
    if (added !== undefined) this.pending.delete(g.id);
    return saved;
  }

  /**
   * Run one step inside the guest's current state, adding its duration to `took`. Reported as
   * detail when `detail` (steps whose end is not itself a transition), and always when it fails.
   */
  private async step<T>(g: Guest, action: string, took: Record<string, number>, fn: () => Promise<T>, fence: ActingFence | undefined, detail = true): Promise<T> {
    const started = this.d.clock.now();
    this.d.telemetry.guestStepStarted?.({ pool: g.pool, guest: g.id, action });
    try {
      // A holder that may no longer act (its lease could have expired) starts no driver action.
      fence?.check();
      await this.d.pauseAt?.(action, g);
      const r = await fn();
      took[action] = this.d.clock.now() - started;
      if (detail) this.d.telemetry.guestStep({ pool: g.pool, guest: g.id, action, state: g.state, durationMs: took[action] });
      this.note(g.id, { at: started, action, outcome: 'ok', durationMs: took[action] });
      return r;
    } catch (e) {
      const err = wrapError('GH_INTERNAL', e);
      took[action] = this.d.clock.now() - started;
      this.note(g.id, { at: started, action, outcome: 'failed', durationMs: took[action], detail: err.message, code: err.code });
      this.d.telemetry.guestStep({ pool: g.pool, guest: g.id, action, state: g.state, durationMs: took[action], error: { code: err.code, message: err.message } });
      throw err;
    }
  }

  /** Report the transition `from` -> `g.state`; `since` is when `from` was entered. */
  private moved(g: Guest, action: string, from: GuestState | 'none', since: number, stepsMs: Record<string, number> = {}, reason?: string): void {
    this.d.telemetry.guestStep({
      pool: g.pool, guest: g.id, action, from, to: g.state, durationMs: this.d.clock.now() - since,
      ...(Object.keys(stepsMs).length > 0 ? { stepsMs } : {}), ...(reason !== undefined ? { reason } : {}),
    });
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
      this.moved(g, 'launch', 'none', now);
      // Hosts an operator closed (drain-host) take no new guest: read fresh for every launch.
      const closed = closedHostsOf(await this.d.store.listHosts());
      if (closed.size > 0) spec.avoidHosts = [...closed].sort();
      const cloning: Record<string, number> = {};
      const cloned = await this.step(g, 'clone', cloning, () => hv.clone(spec), fence, false);
      timings.cloneMs = cloning.clone!;
      // Known facts go into `g` before the store write: if that write fails, cleanup still
      // needs them (the clone's path, the pid) to undo what the driver made.
      g = { ...g, meta: { ...g.meta, ...cloned.meta }, host: cloned.host ?? g.host, address: cloned.address ?? g.address };
      g = await this.transition(g, 'booting', {}, fence);
      this.moved(g, 'clone', 'cloning', now, cloning);

      const bootingSince = this.d.clock.now();
      const booting: Record<string, number> = {};
      const booted = await this.step(g, 'boot', booting, () => hv.boot(spec, g.meta), fence);
      timings.bootMs = booting.boot!;
      g = { ...g, meta: { ...g.meta, ...booted.meta }, host: booted.host ?? g.host, address: booted.address ?? g.address };
      g = await this.transition(g, 'booting', {}, fence); // what boot made (pid, domid), same state

      await this.step(g, 'health', booting, () => this.d.waitHealthy(g, policy), fence);
      timings.healthMs = booting.health!;
      if (!(await this.runHook('before_register', g, policy, booting, fence))) {
        throw new GridhostError('GH_HOOK_FAILED', `hook before_register failed for ${g.id} (on_failure: abandon): the guest is not registered`, { guest: g.id, hook: 'before_register' });
      }
      await this.step(g, 'register', booting, () => this.register(g, policy), fence, false);
      timings.registerMs = booting.register!;
      g = await this.transition(g, 'healthy', { healthyAt: this.d.clock.now() }, fence);
      this.moved(g, 'register', 'booting', bootingSince, booting);
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
      this.moved(g, 'make-warm', 'none', now, {}, 'warm pool below its size');
      const closed = closedHostsOf(await this.d.store.listHosts());
      if (closed.size > 0) spec.avoidHosts = [...closed].sort();
      const took: Record<string, number> = {};
      const merge = (r: { meta: Record<string, string>; host?: string; address?: string }) => {
        g = { ...g, meta: { ...g.meta, ...r.meta }, host: r.host ?? g.host, address: r.address ?? g.address };
      };
      // Each step's facts are written before the next step, as a launch's are.
      merge(await this.step(g, 'clone', took, () => hv.clone(spec), fence));
      g = await this.transition(g, 'warming', {}, fence);
      merge(await this.step(g, 'boot', took, () => hv.boot(spec, g.meta), fence));
      g = await this.transition(g, 'warming', {}, fence);
      await this.step(g, 'health', took, () => this.d.waitHealthy(g, policy), fence);
      merge(await this.step(g, 'pause', took, () => hv.pause(g), fence));
      g = await this.transition(g, 'warm', {}, fence);
      this.moved(g, 'pause', 'warming', now, took);
      return g;
    } catch (e) {
      const err = wrapError('GH_BOOT_FAILED', e, { guest: id });
      await this.cleanup(g, policy, `making a warm guest failed: ${err.message}`, fence);
      throw err;
    }
  }

  /**
   * warm -> booting -> healthy: a scale-out takes a warm guest: unpause, health, before_register,
   * register. `booting` is written first (a compare-and-set: GH_STALE_WRITE when another process
   * or the warm pool's trim changed it meanwhile; nothing else is done then), so from here it
   * counts and is in flight as any launch, and a restart undoes a take cut short. On a later
   * failure it is cleaned up (record `failed`) and the error rethrown.
   */
  async takeWarm(warm: Guest, policy: Policy, fence?: ActingFence): Promise<{ guest: Guest; timings: LaunchTimings }> {
    const t0 = this.d.clock.now();
    const hv = this.d.hypervisorFor(warm.driver);
    let g = await this.transition(warm, 'booting', {}, fence);
    this.moved(g, 'take-warm', 'warm', warm.updatedAt, {}, 'scale-out took a warm guest');
    const timings: LaunchTimings = { cloneMs: 0, bootMs: 0, healthMs: 0, registerMs: 0, warm: true };
    try {
      if (!canPause(hv)) throw new GridhostError('GH_BOOT_FAILED', `hypervisor driver ${hv.name} cannot unpause guests`, { guest: g.id });
      const booting: Record<string, number> = {};
      const r = await this.step(g, 'unpause', booting, () => hv.unpause(g), fence);
      timings.bootMs = booting.unpause!;
      g = await this.transition(g, 'booting', { meta: { ...g.meta, ...r.meta } }, fence);
      // No readiness wait of gridhost's own here: the guest passed it before it was paused, and
      // register() waits for the balancer's own health check, which a guest that did not come
      // back fails (then it is cleaned up and a cold launch replaces it). One check, not two:
      // through a dom0's SSH channel each costs a second on a busy dom0.
      if (!(await this.runHook('before_register', g, policy, booting, fence))) {
        throw new GridhostError('GH_HOOK_FAILED', `hook before_register failed for ${g.id} (on_failure: abandon): the guest is not registered`, { guest: g.id, hook: 'before_register' });
      }
      await this.step(g, 'register', booting, () => this.register(g, policy), fence, false);
      timings.registerMs = booting.register!;
      g = await this.transition(g, 'healthy', { healthyAt: this.d.clock.now() }, fence);
      this.moved(g, 'register', 'booting', t0, booting);
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
    this.moved(g, 'adopt', 'none', now, {}, 'running with no record; unknown_guests: adopt');
    try {
      const booting: Record<string, number> = {};
      await this.step(g, 'health', booting, () => this.d.waitHealthy(g, policy), fence);
      // What boot() sets from the policy (Xen: credit weight and cap) is not in the domain's
      // config: set it on the adopted guest too, before it serves.
      const applied = await this.step(g, 'reapply', booting, () => this.reapply(g, policy), fence);
      await this.step(g, 'register', booting, () => this.register(g, policy), fence, false);
      g = await this.transition(g, 'healthy', { healthyAt: this.d.clock.now(), meta: { ...g.meta, ...applied } }, fence);
      this.moved(g, 'register', 'booting', now, booting);
      return g;
    } catch (e) {
      const err = wrapError('GH_BOOT_FAILED', e, { guest: g.id });
      await this.cleanup(g, policy, `adoption failed: ${err.message}`, fence);
      throw err;
    }
  }

  /** The policy's settings on a running guest again (Hypervisor.reapply); {} for a driver without. */
  async reapply(g: Guest, policy: Policy): Promise<Record<string, string>> {
    const hv = this.d.hypervisorFor(g.driver);
    return hv.reapply ? hv.reapply(g, policy) : {};
  }

  /**
   * Run the policy's hook `name` for the guest, if it has one; record it in the guest's history
   * (written with the next state), the log and the metrics, and its duration in `took`.
   * Resolves false only when the hook failed and on_failure is abandon.
   */
  private async runHook(name: HookName, g: Guest, policy: Policy | undefined, took: Record<string, number>, fence: ActingFence | undefined): Promise<boolean> {
    const hook = policy?.hooks?.[name];
    if (policy === undefined || hook === undefined) return true;
    if (this.d.hooks === undefined) throw new GridhostError('GH_INTERNAL', `pool ${policy.pool} has a ${name} hook but no hook runner is configured`);
    // A holder that may no longer act for the pool runs no hook either.
    fence?.check();
    const at = this.d.clock.now();
    const r = await this.d.hooks.run(hook, { hook: name, guest: g.id, pool: g.pool, address: g.address ?? '', host: g.host });
    took[name] = r.durationMs;
    const outcome = r.ok ? 'ok' : hook.onFailure === 'continue' ? 'continued' : 'abandoned';
    this.note(g.id, { at, action: name, outcome, durationMs: r.durationMs, detail: `${hook.kind}: ${r.detail}`, ...(r.ok ? {} : { code: 'GH_HOOK_FAILED' }) });
    this.d.telemetry.hook({ pool: g.pool, guest: g.id, hook: name, kind: hook.kind, state: g.state, outcome, durationMs: r.durationMs, detail: r.detail });
    return outcome !== 'abandoned';
  }

  /** Add to the balancer and wait until the balancer's own health check routes to it. */
  /** A guest moved live to another host (evacuation): where the balancer reaches it through its
   *  host, or its address changed, it is registered again at the new place. */
  async rehome(before: Guest, after: Guest, policy: Policy): Promise<void> {
    if (this.routeVia(before) === this.routeVia(after) && before.address === after.address) return;
    await this.d.balancer.remove(after.pool, after.id);
    await this.register(after, policy);
  }

  private async register(g: Guest, policy: Policy): Promise<void> {
    if (!g.address) throw new GridhostError('GH_BOOT_FAILED', `guest ${g.id} has no address after boot`);
    await this.d.balancer.add(policy.pool, g.id, g.address, this.routeVia(g));
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
      g = await this.transition(g, 'draining', {}, fence);
      if (from !== 'draining') this.moved(g, 'retire', from, since, {}, reason);
      const drainingSince = this.d.clock.now();
      const draining: Record<string, number> = {};
      if (!(await this.runHook('before_retire', g, policy, draining, fence))) {
        g = await this.transition(g, 'healthy', {}, fence);
        this.moved(g, 'before_retire', 'draining', drainingSince, draining, 'hook before_retire failed (on_failure: abandon): the guest stays in service');
        throw new GridhostError('GH_HOOK_FAILED', `hook before_retire failed for ${g.id} (on_failure: abandon): the guest stays in service`, { guest: g.id, hook: 'before_retire' });
      }
      // A failed drain must not leave the guest `draining` (in flight) for ever: that would hold
      // every later decision for the pool. Stop it anyway, as a drain timeout does.
      let first: unknown;
      await this.step(g, 'drain', draining, () => this.drain(g, policy), fence, false).catch((e: unknown) => { first = e; });
      await this.stopAndDelete(g, policy, reason, 'gone', { action: 'drain', since: drainingSince, stepsMs: draining }, fence).catch((e: unknown) => { first ??= e; });
      if (first !== undefined) throw first;
    } catch (e) {
      outcome = 'failed';
      throw e;
    } finally {
      this.d.telemetry.retired(g.pool, outcome, (this.d.clock.now() - t0) / 1000);
    }
  }

  private async drain(g: Guest, policy: Policy | undefined): Promise<void> {
    try {
      await this.d.balancer.setDrain(g.pool, g.id);
    } catch (e) {
      // A backend the balancer no longer knows has nothing in flight: nothing to drain.
      if (e instanceof GridhostError && e.code === 'GH_BACKEND_UNKNOWN') return;
      throw e;
    }
    const r = await waitDrained(this.d.balancer, g.pool, g.id, policy?.guest.drainTimeoutMs ?? UNMANAGED_DRAIN_TIMEOUT_MS, this.pollMs, this.d.clock);
    if (!r.drained) this.d.telemetry.warn('drain timed out; stopping with requests in flight', { pool: g.pool, guest: g.id, active: r.active });
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
    g = await this.transition(g, 'stopping', {}, fence);
    // A guest already stopping (a cleanup tried again) does not enter it again.
    if (from !== 'stopping') this.moved(g, entered.action, from, entered.since, entered.stepsMs, entered.action === 'drain' ? undefined : reason);
    const stoppingSince = g.updatedAt;
    const stopping: Record<string, number> = {};
    const errors: GridhostError[] = [];
    const attempt = async (action: string, fn: () => Promise<void>) => {
      try {
        await this.step(g, action, stopping, fn, fence);
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
      await this.transition(g, 'stopping', { error: errors.map((e) => e.message).join('; ') }, fence);
      throw errors[0];
    }
    this.note(g.id, { at: this.d.clock.now(), action: final === 'gone' ? 'retired' : 'cleaned-up', outcome: 'ok', durationMs: 0, detail: reason });
    g = await this.transition(g, final, final === 'failed' ? { error: reason } : {}, fence);
    this.d.telemetry.forgetGuest(g.pool, g.id);
    this.moved(g, final === 'gone' ? 'retired' : 'cleaned-up', 'stopping', stoppingSince, stopping, reason);
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
