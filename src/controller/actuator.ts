// Carries out a decision. The decision is data made from a snapshot; before acting, the
// actuator re-reads the pool from the store and refuses a decision that no longer matches
// (the karpenter model), so a stale decision can never over- or under-shoot.
import type { Decision, Guest } from '../domain/types.ts';
import { COUNTED_STATES, IN_FLIGHT_STATES } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Store } from '../store/store.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { GuestLifecycle, LaunchTimings } from './guest-lifecycle.ts';

export interface ActOutcome {
  outcome: 'done' | 'skipped' | 'failed';
  detail: string;
  launched: number;
  launchFailures: number;
  /** Why each failed launch failed (one per launchFailures), with its own code. */
  launchErrors: GridhostError[];
  retired: number;
  timings: LaunchTimings[];
}

/** Pure: which guests to retire for a scale-in. Newest first (least warm cache, least history). */
export function pickVictims(guests: readonly Guest[], n: number): Guest[] {
  return guests
    .filter((g) => g.state === 'healthy')
    .slice()
    .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
    .slice(0, Math.max(0, n));
}

/** Pure: does the fresh state still match what the decision was made from? */
export function recheck(decision: Decision, fresh: readonly Guest[]): { ok: true } | { ok: false; why: string } {
  const inFlight = fresh.filter((g) => IN_FLIGHT_STATES.includes(g.state));
  if (inFlight.length > 0) return { ok: false, why: `${inFlight.length} guest(s) already changing (${inFlight.map((g) => `${g.id}:${g.state}`).join(', ')})` };
  const counted = fresh.filter((g) => COUNTED_STATES.includes(g.state)).length;
  if (counted !== decision.from) return { ok: false, why: `pool has ${counted} guests now, decision was made from ${decision.from}` };
  return { ok: true };
}

export class Actuator {
  constructor(
    private readonly store: Store,
    private readonly lifecycle: GuestLifecycle,
    /** The same "lost" rule the pool loop decides with, so the re-check counts alike. */
    private readonly isLost: (g: Guest) => boolean = () => false,
  ) {}

  async apply(decision: Decision, policy: Policy): Promise<ActOutcome> {
    const base: ActOutcome = { outcome: 'done', detail: '', launched: 0, launchFailures: 0, launchErrors: [], retired: 0, timings: [] };
    const fresh = (await this.store.listGuests({ pool: decision.pool })).filter((g) => !this.isLost(g));
    const check = recheck(decision, fresh);
    if (!check.ok) {
      const err = new GridhostError('GH_STALE_DECISION', `decision skipped: ${check.why}`);
      return { ...base, outcome: 'skipped', detail: err.message };
    }
    if (decision.direction === 'scale-out') {
      const n = decision.to - decision.from;
      // Launch in parallel: a step of +3 should take one boot time, not three.
      const results = await Promise.allSettled(Array.from({ length: n }, () => this.lifecycle.launch(policy)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      const ok = results.filter((r): r is PromiseFulfilledResult<{ guest: Guest; timings: LaunchTimings }> => r.status === 'fulfilled');
      const launchErrors = failed.map((f) => wrapError('GH_BOOT_FAILED', f.reason));
      return {
        ...base,
        outcome: failed.length === 0 ? 'done' : 'failed',
        detail: failed.length === 0 ? `launched ${n}` : `launched ${ok.length} of ${n}: ${launchErrors.map((e) => e.message).join('; ')}`,
        launched: ok.length,
        launchFailures: failed.length,
        launchErrors,
        timings: ok.map((r) => r.value.timings),
      };
    }
    if (decision.direction === 'scale-in') {
      const victims = pickVictims(fresh, decision.from - decision.to);
      const results = await Promise.allSettled(victims.map((g) => this.lifecycle.retire(g, policy, decision.reason)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      return {
        ...base,
        outcome: failed.length === 0 ? 'done' : 'failed',
        detail: failed.length === 0
          ? `retired ${victims.map((v) => v.id).join(', ')}`
          : `retired ${victims.length - failed.length} of ${victims.length}: ${failed.map((f) => wrapError('GH_STOP_FAILED', f.reason).message).join('; ')}`,
        retired: victims.length - failed.length,
      };
    }
    return { ...base, outcome: 'skipped', detail: 'hold' };
  }

  /**
   * Finish guests left `stopping` by a cleanup step that failed (see GuestLifecycle.finish).
   * Resolves with the errors of those that failed again; they stay `stopping` for a later try.
   */
  async retryStopping(guests: readonly Guest[], policy: Policy): Promise<{ finished: string[]; errors: GridhostError[] }> {
    const finished: string[] = [];
    const errors: GridhostError[] = [];
    for (const g of guests.filter((x) => x.state === 'stopping')) {
      try {
        await this.lifecycle.finish(g, policy, `retried a cleanup that failed earlier${g.error ? ` (${g.error})` : ''}`, 'gone');
        finished.push(g.id);
      } catch (e) {
        errors.push(wrapError('GH_STOP_FAILED', e, { guest: g.id }));
      }
    }
    return { finished, errors };
  }
}
