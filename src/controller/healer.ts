// Auto-heal, the imperative part (the pure rules are in src/decision/auto-heal.ts): each tick
// the pool loop asks the healer to look at its serving guests; a sick one is written `sick` in
// the store, drained in the balancer (no new requests, fail-open never picks it) and reported.
// Its replacement runs in the background: a new guest first, warm when one is ready
// (replacement-launch.ts), else launched cold (the pool never drops a guest before the new one serves), then retire the sick one, recorded as a `replace` event
// that names both and says why. The pool loop owns the breaker and the memory of replacements
// under way; the healer tells it how each one ended.
import type { Policy } from '../domain/policy.ts';
import type { Guest, ScaleEvent } from '../domain/types.ts';
import type { Balancer, PoolServing } from '../drivers/balancer/balancer.ts';
import type { Store } from '../store/store.ts';
import { confirmMs, findSick, REPLACES_META, type SickVerdict } from '../decision/auto-heal.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import type { Telemetry } from './telemetry.ts';
import { fenceData, type ActingFence } from './acting-fence.ts';
import { ReplacementLaunch } from './replacement-launch.ts';

export interface HealerDeps {
  store: Store;
  balancer: Balancer;
  lifecycle: GuestLifecycle;
  clock: Clock;
  telemetry: Telemetry;
  /** Which of these serving guests their drivers know to be gone; absent: no driver can tell. */
  gone?: (guests: readonly Guest[]) => Promise<Set<string>>;
}

export interface ReplaceResult {
  sick: Guest;
  /** Nothing was done: the guest was no longer sick, or another replacement had claimed it. */
  skipped?: string;
  cause: 'gone' | 'health';
  /** The new guest, when its launch succeeded. */
  replacement?: Guest;
  launchError?: GridhostError;
  retireError?: GridhostError;
}

/** What the healer saw of the pool this tick. */
export interface Inspection {
  /** The guests as they are now (the sick ones marked). */
  guests: Guest[];
  /** The balancer's view, when it could be read (the pool loop's serving figures come from it too). */
  serving?: PoolServing;
  marked: SickVerdict[];
}

const causeOf = (g: Guest): 'gone' | 'health' => (g.meta.sickCause === 'gone' ? 'gone' : 'health');

export class Healer {
  private readonly running = new Set<Promise<void>>();
  /** Sick guests a replacement was started for (kept until the guest leaves the store's sick state). */
  private readonly claimed = new Set<string>();
  private goneFailedReported = false;
  private readonly replacements: ReplacementLaunch;

  constructor(private readonly d: HealerDeps) {
    this.replacements = new ReplacementLaunch(d);
  }

  /** `fence`: the pool's lease when the loop runs as its leader (its writes and steps carry it). */
  async inspect(policy: Policy, guests: readonly Guest[], fence?: ActingFence): Promise<Inspection> {
    const serving = await this.d.balancer.serving(policy.pool).catch(() => undefined);
    // Off: only gone guests are noticed (auto-heal.ts); health checks are left to the balancer.
    const judgeHealth = policy.autoHeal.enabled;
    for (const id of this.claimed) if (!guests.some((g) => g.id === id && g.state === 'sick')) this.claimed.delete(id);
    const candidates = guests.filter((g) => g.state === 'healthy');
    let gone = new Set<string>();
    if (this.d.gone && candidates.length > 0) {
      try {
        gone = await this.d.gone(candidates);
        this.goneFailedReported = false;
      } catch (e) {
        // Unknown is not gone; say so once, not every tick.
        if (!this.goneFailedReported) this.d.telemetry.warn('could not ask the drivers which guests are gone; judging by health checks only', { pool: policy.pool, error: wrapError('GH_HOST_UNREACHABLE', e).message });
        this.goneFailedReported = true;
      }
    }
    const marked = findSick(guests, {
      ...(serving && judgeHealth ? { backends: new Map(serving.backends.map((b) => [b.id, b])) } : {}),
      failOpen: serving?.failOpen ?? false,
      gone,
      ...(policy.balancer.check.fall !== undefined ? { fall: policy.balancer.check.fall } : {}),
      now: this.d.clock.now(),
      confirmMs: confirmMs(policy),
    });
    const out = [...guests];
    for (const v of marked) {
      const now = this.d.clock.now();
      fence?.check();
      const sick = await this.d.store.saveGuest({ ...v.guest, state: 'sick', error: v.reason, updatedAt: now, meta: { ...v.guest.meta, sickCause: v.cause } }, fenceData(fence));
      await this.d.balancer.setDrain(policy.pool, sick.id).catch((e: unknown) => {
        // Not registered any more: nothing routes to it.
        if (!(e instanceof GridhostError && e.code === 'GH_BACKEND_UNKNOWN')) this.d.telemetry.warn('could not take a sick guest out of rotation', { pool: policy.pool, guest: sick.id, error: wrapError('GH_BALANCER_FAILED', e).message });
      });
      this.d.telemetry.guestSick({ pool: policy.pool, guest: sick.id, cause: v.cause, reason: v.reason });
      out[out.findIndex((g) => g.id === sick.id)] = sick;
    }
    return { guests: out, marked, ...(serving ? { serving } : {}) };
  }

  /** Replace `sick` in the background; `done` hears how it ended (never throws). */
  start(policy: Policy, sick: Guest, size: number, done: (r: ReplaceResult) => void, fence?: ActingFence): void {
    const p = this.replace(policy, sick, size, fence).then(done, (e: unknown) => {
      done({ sick, cause: causeOf(sick), launchError: wrapError('GH_INTERNAL', e) });
    });
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Retire a sick guest without replacing it (auto-heal off), in the background; `done` hears
   *  when it has ended (never throws: a failed cleanup leaves it `stopping`, which the pool
   *  loop retries). */
  retireSick(policy: Policy, sick: Guest, done: () => void, fence?: ActingFence): void {
    const why = sick.error ?? 'sick';
    this.d.telemetry.info('retiring a sick guest; auto-heal is off, so no replacement is launched for it (the pool\'s rules decide its size)', { pool: policy.pool, guest: sick.id, event: 'auto-heal', reason: why });
    const p = this.d.lifecycle.retire(sick, policy, `sick, auto-heal off: ${why}`, fence).catch((e: unknown) => {
      this.d.telemetry.warn('retiring a sick guest failed; its cleanup is retried', { pool: policy.pool, guest: sick.id, error: wrapError('GH_STOP_FAILED', e).message });
    }).finally(done);
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Resolves once every replacement under way has ended. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /**
   * Claim the sick guest for one replacement, against fresh state: a tick that read the pool
   * before an earlier replacement ended would otherwise replace the same guest twice (and the
   * pool would grow past max). One process leads a pool at a time, so the claim is this healer's.
   */
  private async claim(sick: Guest): Promise<Guest | string> {
    if (this.claimed.has(sick.id)) return `${sick.id} is being (or was) replaced already`;
    this.claimed.add(sick.id); // before the read: two starts in one turn must not both pass
    const fresh = await this.d.store.getGuest(sick.id).catch((e: unknown) => {
      this.claimed.delete(sick.id);
      throw e;
    });
    if (fresh && fresh.state === 'sick') return fresh;
    this.claimed.delete(sick.id);
    return `${sick.id} is ${fresh ? fresh.state : 'gone'} now`;
  }

  private async replace(policy: Policy, stale: Guest, size: number, fence?: ActingFence): Promise<ReplaceResult> {
    const cause = causeOf(stale);
    const claimed = await this.claim(stale);
    if (typeof claimed === 'string') return { sick: stale, cause, skipped: claimed };
    const sick = claimed;
    const started = this.d.clock.now();
    const why = sick.error ?? 'sick';
    const event: ScaleEvent = {
      pool: policy.pool, at: started, direction: 'replace', from: size, to: size,
      reason: `replace ${sick.id}: ${why}`,
      inputs: { series: {}, min: policy.min, max: policy.max, schedules: [] },
      outcome: 'started',
    };
    const stored = await this.d.store.appendEvent({ ...event, ...(fence ? { holder: fence.holder, token: fence.token } : {}) }, fenceData(fence)).catch(() => undefined);
    this.d.telemetry.scaleEvent({ ...event });
    const result: ReplaceResult = { sick, cause };
    try {
      result.replacement = (await this.replacements.launch(policy, { ...(fence ? { fence } : {}), meta: { [REPLACES_META]: sick.id }, why: `replacing sick ${sick.id}` })).guest;
    } catch (e) {
      result.launchError = wrapError('GH_BOOT_FAILED', e);
      // Still sick and unreplaced: a later tick may try again (the breaker permitting).
      this.claimed.delete(sick.id);
    }
    if (result.replacement) {
      try {
        await this.d.lifecycle.retire(sick, policy, `replaced by ${result.replacement.id}: ${why}`, fence);
      } catch (e) {
        // Left `stopping`: the pool loop retries its cleanup.
        result.retireError = wrapError('GH_STOP_FAILED', e);
      }
    }
    const outcome = result.replacement ? 'done' : 'failed';
    const detail = result.replacement
      ? `launched ${result.replacement.id}; ${result.retireError ? `retiring ${sick.id} failed (retried): ${result.retireError.message}` : `retired ${sick.id}`}`
      : `launch of a replacement failed; ${sick.id} stays out of rotation and is replaced when launches are possible again: ${result.launchError?.message ?? ''}`;
    if (stored?.id !== undefined) await this.d.store.updateEvent(stored.id, outcome, detail, fenceData(fence)).catch(() => undefined);
    this.d.telemetry.scaleEvent({ ...event, outcome, detail, durationMs: this.d.clock.now() - started });
    this.d.telemetry.replaced(policy.pool, cause, outcome);
    return result;
  }
}
