// Carries out a decision. The decision is data made from a snapshot; before acting, the
// actuator re-reads the pool from the store and refuses a decision that no longer matches
// (the karpenter model), so a stale decision can never over- or under-shoot.
import type { Decision, Guest, ScaleDecision, ScaleInDecision, ScaleOutDecision } from '../domain/types.ts';
import { assertNever, GUEST_STATE_FACTS } from '../domain/types.ts';
import type { Policy, WhileBooting } from '../domain/policy.ts';
import type { Store } from '../store/store.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import { pickVictims, type VictimFacts } from '../decision/pick-victims.ts';
import { awaitingReplacement } from '../decision/auto-heal.ts';
import { pickWarm } from '../decision/warm-pool.ts';
import { closedHostsOf } from '../decision/evacuation-plan.ts';
import { newGuestId, type GuestLifecycle, type LaunchTimings } from './guest-lifecycle.ts';
import type { ActingFence } from './acting-fence.ts';
import { applyResize } from './vertical.ts';

export interface ActOutcome {
  outcome: 'done' | 'skipped' | 'failed';
  detail: string;
  launched: number;
  launchFailures: number;
  /** Why each failed launch failed (one per launchFailures), with its own code. */
  launchErrors: GridhostError[];
  /** Of `launched`, the guests taken from the warm pool (unpaused rather than cloned). */
  warm: number;
  retired: number;
  /** Guests resized (a resize decision). */
  resized?: number;
  timings: LaunchTimings[];
}

/**
 * Pure: does the fresh state still match what the decision was made from? `launching` are
 * guests whose launch this actuator has started and the store may not list yet: they count, as
 * do `awaiting` sick guests whose replacement is not in the store yet (awaitingReplacement()).
 * A change in flight refuses the decision, except guests on their way up under a scale-out
 * when the policy adds to them (scale_out.while_booting `add`, decide.ts step 1).
 */
export function recheck(decision: Decision, fresh: readonly Guest[], whileBooting: WhileBooting = 'hold', launching = 0, awaiting = 0): { ok: true } | { ok: false; why: string } {
  const mayAddToBooting = decision.action === 'scale-out' && whileBooting === 'add';
  const blocking = fresh.filter((g) => GUEST_STATE_FACTS[g.state].inFlight && !(mayAddToBooting && GUEST_STATE_FACTS[g.state].counted));
  if (blocking.length > 0) return { ok: false, why: `${blocking.length} guest(s) already changing (${blocking.map((g) => `${g.id}:${g.state}`).join(', ')})` };
  if (launching > 0 && !mayAddToBooting) return { ok: false, why: `${launching} guest(s) being launched` };
  const counted = fresh.filter((g) => GUEST_STATE_FACTS[g.state].counted).length + awaiting + launching;
  if (counted !== decision.from) return { ok: false, why: `pool has ${counted} guests now, decision was made from ${decision.from}` };
  return { ok: true };
}

export class Actuator {
  /** Per pool, guests whose launch was started here and may not be in the store yet: with
   *  scale-outs that add to guests booting, two decisions may be carried out at once, and the
   *  second must count the first's guests before their first store write. */
  private readonly launching = new Map<string, Set<string>>();

  constructor(
    private readonly store: Store,
    private readonly lifecycle: GuestLifecycle,
    /** The same "lost" rule the pool loop decides with, so the re-check counts alike. */
    private readonly isLost: (g: Guest) => boolean = () => false,
    /** What the victim choice knows beyond the records (requests in flight, failing checks,
     *  outdated images); read fresh for each scale-in. A failure leaves the facts out. */
    private readonly victimFacts: (policy: Policy, guests: readonly Guest[]) => Promise<VictimFacts> = async () => ({}),
  ) {}

  async apply(decision: ScaleDecision, policy: Policy, fence?: ActingFence): Promise<ActOutcome> {
    const base: ActOutcome = { outcome: 'done', detail: '', launched: 0, launchFailures: 0, launchErrors: [], warm: 0, retired: 0, timings: [] };
    // A scale-out reads the closed hosts too (drain-host): it takes no warm guest there.
    const [listed, hosts] = await Promise.all([this.store.listGuests({ pool: decision.pool }), decision.action === 'scale-out' ? this.store.listHosts() : []]);
    const fresh = listed.filter((g) => !this.isLost(g));
    // From here to the launches' registration nothing awaits: the re-check and the
    // registration are one step, so concurrent applies always see each other's launches.
    const pending = this.launching.get(decision.pool) ?? new Set<string>();
    // Launches not listed yet, and warm guests being taken that the store still lists as warm
    // (not counted until their take's first write): both are guests coming.
    const counted = new Set(fresh.filter((g) => GUEST_STATE_FACTS[g.state].counted).map((g) => g.id));
    const unlisted = [...pending].filter((id) => !counted.has(id)).length;
    const check = recheck(decision, fresh, policy.scaleOut.whileBooting, unlisted, awaitingReplacement(policy, fresh));
    if (!check.ok) {
      const err = new GridhostError('GH_STALE_DECISION', `decision skipped: ${check.why}`);
      return { ...base, outcome: 'skipped', detail: err.message };
    }
    switch (decision.action) {
      case 'scale-out':
        return this.scaleOut(decision, fresh, closedHostsOf(hosts), policy, base, fence);
      case 'scale-in':
        return this.scaleIn(decision, fresh, policy, base, fence);
      case 'resize': {
        // Vertical first: the guests' vCPUs/memory, no guest added or retired (vertical.ts).
        const r = await applyResize({ store: this.store, hypervisor: (d) => this.lifecycle.hypervisor(d), now: () => this.lifecycle.now() }, decision, policy, fence);
        return { ...base, ...r };
      }
      default:
        return assertNever(decision, 'decision');
    }
  }

  private async scaleOut(decision: ScaleOutDecision, fresh: readonly Guest[], closed: ReadonlySet<string>, policy: Policy, base: ActOutcome, fence?: ActingFence): Promise<ActOutcome> {
    const n = decision.to - decision.from;
    // Decision to serving starts here, where the decision is made, re-checked and carried out:
    // `decision.at` is when its tick began sampling, which took seconds on a busy dom0.
    const decidedAt = this.lifecycle.now();
    const pending = this.launching.get(decision.pool) ?? new Set<string>();
    this.launching.set(decision.pool, pending);
    // Warm guests first (policy warm_pool): an unpause instead of a clone and a boot. None on a
    // closed host: a cold launch is placed off them, and the warm pool retires those guests.
    const warm = pickWarm(fresh.filter((g) => !closed.has(g.host)), n, pending);
    const ids = Array.from({ length: n - warm.length }, () => newGuestId(policy.pool));
    for (const id of [...warm.map((g) => g.id), ...ids]) pending.add(id);
    const cold = (id: string) => this.lifecycle.launch(policy, id, fence).then((r) => {
      this.lifecycle.served(policy.pool, 'cold', decidedAt);
      return r;
    });
    // A warm guest that cannot be taken (changed meanwhile, gone, failing its check) is replaced
    // by a cold launch: the scale-out still gets its guest. Its own cleanup is takeWarm's.
    const take = (g: Guest) => this.lifecycle.takeWarm(g, policy, fence).then(
      (r) => {
        this.lifecycle.served(policy.pool, 'warm', decidedAt);
        return r;
      },
      (e: unknown) => {
        if (e instanceof GridhostError && (e.code === 'GH_FENCED' || e.code === 'GH_LEASE_LOST')) throw e;
        this.lifecycle.warmTakeFailed(g, wrapError('GH_BOOT_FAILED', e));
        const id = newGuestId(policy.pool);
        pending.add(id);
        return cold(id).finally(() => pending.delete(id));
      },
    );
    // Launch in parallel: a step of +3 should take one boot time, not three.
    const results = await Promise.allSettled([
      ...warm.map((g) => take(g).finally(() => pending.delete(g.id))),
      ...ids.map((id) => cold(id).finally(() => pending.delete(id))),
    ]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    const ok = results.filter((r): r is PromiseFulfilledResult<{ guest: Guest; timings: LaunchTimings }> => r.status === 'fulfilled');
    const launchErrors = failed.map((f) => wrapError('GH_BOOT_FAILED', f.reason));
    const fromWarm = ok.filter((r) => r.value.timings.warm === true).length;
    const warmNote = fromWarm > 0 ? ` (${fromWarm} from the warm pool)` : '';
    return {
      ...base,
      outcome: failed.length === 0 ? 'done' : 'failed',
      detail: failed.length === 0 ? `launched ${n}${warmNote}` : `launched ${ok.length} of ${n}${warmNote}: ${launchErrors.map((e) => e.message).join('; ')}`,
      launched: ok.length,
      launchFailures: failed.length,
      launchErrors,
      warm: fromWarm,
      timings: ok.map((r) => r.value.timings),
    };
  }

  private async scaleIn(decision: ScaleInDecision, fresh: readonly Guest[], policy: Policy, base: ActOutcome, fence?: ActingFence): Promise<ActOutcome> {
    const facts = await this.victimFacts(policy, fresh).catch((): VictimFacts => ({}));
    const victims = pickVictims(fresh, decision.from - decision.to, { order: policy.scaleIn.victims, facts });
    const results = await Promise.allSettled(victims.map((g) => this.lifecycle.retire(g, policy, decision.reason, fence)));
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

  /**
   * Finish guests left `stopping` by a cleanup step that failed (see GuestLifecycle.finish).
   * Resolves with the errors of those that failed again; they stay `stopping` for a later try.
   */
  async retryStopping(guests: readonly Guest[], policy: Policy, fence?: ActingFence): Promise<{ finished: string[]; errors: GridhostError[] }> {
    const finished: string[] = [];
    const errors: GridhostError[] = [];
    // The caller's list comes from the start of its tick: a retirement that was still running
    // then may have finished since. Retrying from that copy would write a gone guest back to
    // `stopping` (the "retired guest live again" of the Xen test); re-read each one first, and
    // the compare-and-set refuses what changed in between anyway.
    const fresh = (await Promise.all(guests.filter((x) => x.state === 'stopping').map((g) => this.store.getGuest(g.id))))
      .filter((g): g is Guest => g !== undefined && g.state === 'stopping');
    for (const g of fresh) {
      try {
        await this.lifecycle.finish(g, policy, `retried a cleanup that failed earlier${g.error ? ` (${g.error})` : ''}`, 'gone', fence);
        finished.push(g.id);
      } catch (e) {
        errors.push(wrapError('GH_STOP_FAILED', e, { guest: g.id }));
      }
    }
    return { finished, errors };
  }
}
