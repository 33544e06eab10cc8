// What an operator can do to a pool (the write API calls these): pause, resume, hold at a size
// by hand, retire one guest, reset the launch breaker. Pause and the manual size live in the
// pool's record in the store (PoolControl), where every tick of its loop reads them; retiring a
// guest runs in the loop's action slot, so it never overlaps a scale action. Each request is
// recorded as an event with who asked and why.
import type { Policy } from '../domain/policy.ts';
import { GUEST_STATE_FACTS, LIVE_STATES, type Direction, type Guest, type OperatorAction, type PoolControl, type ScaleEvent } from '../domain/types.ts';
import { boundsAt } from '../decision/schedule.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Lease, Member, Store } from '../store/store.ts';
import { fenceData } from './acting-fence.ts';
import { savePoolWith } from './save-pool-with.ts';
import type { Clock } from './clock.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import type { PoolLoop } from './pool-loop.ts';
import { poolBlockedError } from './pool-status.ts';
import type { Telemetry } from './telemetry.ts';
import { ReplacementLaunch } from './replacement-launch.ts';
import type { RolloutStatus } from './rollout.ts';

/** Where an operator's request for `pool` must go: its leader, by holder id and API URL. */
export function notLeaderError(pool: string, lease: Lease, member?: Member): GridhostError {
  // A lease taken before leases kept their URL: the holder's heartbeat has its host:port.
  const fromMember = member?.api && /^[^:\s]+:\d+$/.test(member.api) ? `http://${member.api}` : undefined;
  const api = lease.api ?? fromMember;
  const where = api ? ` at ${api}` : ' (its API address is not known: ask it directly)';
  return new GridhostError('GH_NOT_LEADER', `pool ${pool} is led by gridhost process ${lease.holder}${where}: send the request there`, {
    pool, leader: { holder: lease.holder, token: lease.token, ...(api ? { api } : {}) },
  });
}

/** Who asks and why; both end up in the event. */
export interface OperatorRequest {
  by: string;
  reason: string;
}

export interface OperatorDeps {
  store: Store;
  /** The running loop of each pool this process leads, and the policies it knows (the Orchestrator). */
  loops: { loop(pool: string): PoolLoop | undefined; policy?(pool: string): Policy | undefined };
  /** This process's holder id (leases): a pool whose lease another holds is led elsewhere. */
  holder?: string;
  lifecycle: GuestLifecycle;
  clock: Clock;
  telemetry: Telemetry;
  /** limits.hard_max: the most `force` may ask for. */
  hardMax: number;
}

export interface ControlResult {
  pool: string;
  mode: 'auto' | PoolControl['mode'];
  control?: PoolControl;
  /** False when the pool already was in the requested state (the request is still recorded). */
  changed: boolean;
  event: ScaleEvent;
}

export interface RetireResult {
  pool: string;
  guest: string;
  /** The guest launched first because the pool would have fallen below its floor. */
  replacement?: string;
  /** Why no replacement was launched although one was needed (breaker open, launch failed). */
  notReplaced?: string;
  event: ScaleEvent;
}

export interface RolloutResult {
  pool: string;
  /** Guests the rollout replaces (none: every guest is made from the current template and image). */
  outdated: string[];
  changed: boolean;
  rollout?: RolloutStatus;
  event: ScaleEvent;
}

export class Operator {
  /** Retirements in progress by guest id: a second request for the same guest joins the first. */
  private readonly retiring = new Map<string, Promise<RetireResult>>();

  /** A hand-retire's replacement: warm when one is ready (replacement-launch.ts). */
  private readonly replacements: ReplacementLaunch;

  constructor(private readonly d: OperatorDeps) {
    this.replacements = new ReplacementLaunch(d);
  }

  /**
   * The running loop of a pool this process leads. Another process leading it (several share a
   * store): GH_NOT_LEADER naming it and its API URL (from its lease, else its heartbeat); led by
   * nobody this moment although a policy exists (a lease changing hands): GH_NOT_LEADER without
   * a leader, to be tried again; no policy anywhere: GH_POOL_UNMANAGED; unknown: 404.
   */
  private async loopOf(pool: string): Promise<PoolLoop> {
    const loop = this.d.loops.loop(pool);
    if (loop) return loop;
    const [rec, lease] = await Promise.all([this.d.store.getPool(pool), this.d.store.getLease(pool)]);
    if (lease && lease.holder !== this.d.holder && lease.expiresAt > this.d.clock.now()) {
      throw notLeaderError(pool, lease, (await this.d.store.listMembers()).find((m) => m.id === lease.holder));
    }
    if (this.d.loops.policy?.(pool) !== undefined) throw new GridhostError('GH_NOT_LEADER', `no gridhost process leads pool ${pool} this moment (its lease is free or changing hands): try again in a few seconds`, { pool });
    if (rec) throw new GridhostError('GH_POOL_UNMANAGED', `pool ${pool} has no policy (its file was removed): it can only be retired (POST /api/pools/${pool}/retire)`, { pool });
    throw new GridhostError('GH_NOT_FOUND', `no pool named ${pool}`, { pool });
  }

  private async counted(pool: string): Promise<number> {
    return (await this.d.store.listGuests({ pool, states: LIVE_STATES })).filter((g) => GUEST_STATE_FACTS[g.state].counted).length;
  }

  private async record(policy: Policy, action: OperatorAction, req: OperatorRequest, e: { direction?: Direction; from: number; to: number; reason: string; outcome: ScaleEvent['outcome']; detail?: string }): Promise<ScaleEvent> {
    const now = this.d.clock.now();
    const b = boundsAt(policy, now);
    const event = await this.d.store.appendEvent({
      pool: policy.pool, at: now, direction: e.direction ?? 'hold', from: e.from, to: e.to, reason: e.reason,
      inputs: { series: {}, min: b.min, max: b.max, schedules: b.active },
      outcome: e.outcome, action, by: req.by, ...(e.detail !== undefined ? { detail: e.detail } : {}),
    });
    this.d.telemetry.info(`${policy.pool}: ${e.reason}`, { event: 'operator', pool: policy.pool, action, by: req.by, reason: req.reason, outcome: e.outcome, ...(e.detail !== undefined ? { detail: e.detail } : {}) });
    return event;
  }

  /** Write the pool's control (or clear it) into its record, keeping the rest. */
  private async setControl(policy: Policy, control: PoolControl | undefined): Promise<void> {
    // A compare-and-set on the record's version, redone from the fresh record when the loop
    // wrote in between; under the pool's fence when this process leads it.
    const fence = this.d.loops.loop(policy.pool)?.fence();
    await savePoolWith(this.d.store, policy.pool, (rec) => {
      const { control: _old, ...rest } = rec ?? { pool: policy.pool, file: policy.file, desired: policy.min, managed: true, updatedAt: 0 };
      return { ...rest, ...(control ? { control } : {}), updatedAt: this.d.clock.now() };
    }, fenceData(fence));
  }

  private async currentControl(pool: string): Promise<PoolControl | undefined> {
    return (await this.d.store.getPool(pool))?.control;
  }

  private why(req: OperatorRequest): string {
    return req.reason ? `: ${req.reason}` : '';
  }

  async pause(pool: string, req: OperatorRequest): Promise<ControlResult> {
    const loop = await this.loopOf(pool);
    const policy = loop.status().policy;
    const before = await this.currentControl(pool);
    const n = await this.counted(pool);
    if (before?.mode === 'paused') {
      const event = await this.record(policy, 'pause', req, { from: n, to: n, reason: `pause requested by ${req.by}${this.why(req)}`, outcome: 'skipped', detail: `already paused by ${before.by}` });
      return { pool, mode: 'paused', control: before, changed: false, event };
    }
    const control: PoolControl = { mode: 'paused', by: req.by, reason: req.reason, at: this.d.clock.now() };
    await this.setControl(policy, control);
    loop.poke();
    const event = await this.record(policy, 'pause', req, { from: n, to: n, reason: `paused by ${req.by}${this.why(req)}`, outcome: 'done', detail: 'the pool keeps its guests and takes no automatic action until resumed' });
    return { pool, mode: 'paused', control, changed: true, event };
  }

  async resume(pool: string, req: OperatorRequest): Promise<ControlResult> {
    const loop = await this.loopOf(pool);
    const policy = loop.status().policy;
    const before = await this.currentControl(pool);
    const n = await this.counted(pool);
    if (!before) {
      const event = await this.record(policy, 'resume', req, { from: n, to: n, reason: `resume requested by ${req.by}${this.why(req)}`, outcome: 'skipped', detail: 'the pool was not paused or held by hand' });
      return { pool, mode: 'auto', changed: false, event };
    }
    await this.setControl(policy, undefined);
    loop.poke();
    const was = before.mode === 'paused' ? `paused by ${before.by}` : `held at ${before.desired} by ${before.by}`;
    const event = await this.record(policy, 'resume', req, { from: n, to: n, reason: `resumed by ${req.by}${this.why(req)}`, outcome: 'done', detail: `was ${was}; its policy decides again` });
    return { pool, mode: 'auto', changed: true, event };
  }

  /** Hold the pool at `desired`: within the bounds in force, or with `force` within 0..hard_max. */
  async scale(pool: string, desired: number, force: boolean, req: OperatorRequest): Promise<ControlResult> {
    const loop = await this.loopOf(pool);
    const policy = loop.status().policy;
    const b = boundsAt(policy, this.d.clock.now());
    const [lo, hi] = force ? [0, this.d.hardMax] : [b.min, b.max];
    if (!Number.isInteger(desired) || desired < lo || desired > hi) {
      const range = force ? `0 to ${this.d.hardMax} (limits.hard_max) with force` : `${b.min} to ${b.max}, the bounds in force${b.active.length ? ` (schedules ${b.active.join(', ')})` : ''}; "force": true allows 0 to ${this.d.hardMax}`;
      throw new GridhostError('GH_BAD_REQUEST', `desired: must be an integer from ${range}`, { field: 'desired', found: desired, min: lo, max: hi });
    }
    const control: PoolControl = { mode: 'manual', desired, force, by: req.by, reason: req.reason, at: this.d.clock.now() };
    await this.setControl(policy, control);
    loop.poke();
    const n = await this.counted(pool);
    const direction: Direction = desired > n ? 'scale-out' : desired < n ? 'scale-in' : 'hold';
    const event = await this.record(policy, 'scale', req, {
      direction, from: n, to: desired, reason: `set by hand to ${desired} by ${req.by}${this.why(req)}`, outcome: 'done',
      detail: `the pool is held at ${desired} until resumed${force ? ' (forced past its bounds)' : ''}`,
    });
    return { pool, mode: 'manual', control, changed: true, event };
  }

  async resetBreaker(pool: string, req: OperatorRequest): Promise<ControlResult & { breakerWas: 'closed' | 'open' | 'half-open' }> {
    const loop = await this.loopOf(pool);
    const policy = loop.status().policy;
    const was = loop.resetBreaker();
    loop.poke();
    const n = await this.counted(pool);
    const control = await this.currentControl(pool);
    const event = await this.record(policy, 'breaker-reset', req, {
      from: n, to: n, reason: `launch breaker reset by ${req.by}${this.why(req)}`, outcome: was === 'closed' ? 'skipped' : 'done',
      detail: was === 'closed' ? 'the breaker was closed already' : `the breaker was ${was}; launches may start again`,
    });
    return { pool, mode: control?.mode ?? 'auto', ...(control ? { control } : {}), changed: was !== 'closed', event, breakerWas: was };
  }

  /**
   * Replace the pool's outdated guests, batch by batch with surge (rollout.ts): the rollout's
   * state is written to the pool's record and its loop runs the batches between its decisions.
   */
  async rollout(pool: string, req: OperatorRequest): Promise<RolloutResult> {
    const loop = await this.loopOf(pool);
    const st = loop.status();
    const policy = st.policy;
    if (policy.mode === 'recommend') throw new GridhostError('GH_BAD_REQUEST', `pool ${pool} is in mode: recommend: it launches and retires nothing, so it cannot roll out`, { pool });
    if (st.blocked) throw poolBlockedError(pool, st.blocked);
    const n = await this.counted(pool);
    const r = await loop.startRollout(req.by, req.reason);
    const changed = r.outdated.length > 0;
    const event = await this.record(policy, 'rollout', req, {
      direction: 'hold', from: n, to: n, reason: `rollout requested by ${req.by}${this.why(req)}`, outcome: changed ? 'done' : 'skipped',
      detail: changed ? `replacing ${r.outdated.length} guest(s) one batch at a time: ${r.outdated.join(', ')}` : 'every guest is made from the current template and base image',
    });
    const view = loop.status().rollout;
    return { pool, outdated: r.outdated, changed, ...(view ? { rollout: view } : {}), event };
  }

  /**
   * Drain and retire one guest. When the pool would fall below its floor (the manual size, or
   * min in force), a replacement is launched first, so capacity never dips. Concurrent requests
   * for the same guest share one retirement.
   */
  retireGuest(pool: string, guestId: string, req: OperatorRequest): Promise<RetireResult> {
    // Registered before the first await, so a request arriving meanwhile joins this one.
    const key = `${pool}/${guestId}`;
    const joined = this.retiring.get(key);
    if (joined) return joined;
    const p = (async () => {
      const loop = await this.loopOf(pool);
      const g = await this.d.store.getGuest(guestId);
      if (!g || g.pool !== pool || !GUEST_STATE_FACTS[g.state].live) throw new GridhostError('GH_NOT_FOUND', `no live guest ${guestId} in pool ${pool}`, { pool, guest: guestId });
      if (g.state !== 'healthy') throw new GridhostError('GH_GUEST_BUSY', `guest ${guestId} is ${g.state}: only a healthy guest can be retired by hand`, { pool, guest: guestId, state: g.state });
      // The balancer could neither drain it nor register a replacement.
      const blocked = loop.status().blocked;
      if (blocked) throw poolBlockedError(pool, blocked);
      return this.runRetire(loop, guestId, req);
    })().finally(() => this.retiring.delete(key));
    this.retiring.set(key, p);
    return p;
  }

  private runRetire(loop: PoolLoop, guestId: string, req: OperatorRequest): Promise<RetireResult> {
    let result: RetireResult | undefined;
    return loop.enqueue({
      run: async (policy) => {
        // Re-checked in the slot: a scale-in that ran meanwhile may have taken this guest.
        const g = await this.d.store.getGuest(guestId);
        if (!g || g.state !== 'healthy') throw new GridhostError('GH_GUEST_BUSY', `guest ${guestId} is ${g?.state ?? 'gone'} now: it was retired or changed meanwhile`, { pool: policy.pool, guest: guestId });
        result = await this.retireNow(loop, policy, g, req);
      },
    }).then(() => result!);
  }

  private async retireNow(loop: PoolLoop, policy: Policy, g: Guest, req: OperatorRequest): Promise<RetireResult> {
    const now = this.d.clock.now();
    const n = await this.counted(policy.pool);
    const control = await this.currentControl(policy.pool);
    const floor = control?.mode === 'manual' ? control.desired : boundsAt(policy, now).min;
    const replace = n - 1 < floor;
    const reason = `retire ${g.id} by ${req.by}${this.why(req)}`;
    const event = await this.record(policy, 'retire-guest', req, { direction: replace ? 'hold' : 'scale-in', from: n, to: replace ? n : n - 1, reason, outcome: 'started' });
    let replacement: string | undefined;
    let notReplaced: string | undefined;
    if (replace) {
      const b = loop.status().breaker;
      if (b.mode === 'open') notReplaced = `launch breaker open for another ${Math.ceil(b.remainingMs / 1000)}s`;
      else {
        try {
          replacement = (await this.replacements.launch(policy, { why: `replacing ${g.id}, retired by hand` })).guest.id;
          loop.recordLaunches(1, []);
        } catch (e) {
          const err = wrapError('GH_BOOT_FAILED', e);
          loop.recordLaunches(0, [err]);
          notReplaced = `replacement failed: ${err.message}`;
        }
      }
    }
    const parts = [replacement ? `replaced by ${replacement}` : notReplaced ?? 'not replaced: the pool stays within its bounds'];
    try {
      await this.d.lifecycle.retire(g, policy, reason);
    } catch (e) {
      const err = wrapError('GH_STOP_FAILED', e);
      await this.d.store.updateEvent(event.id!, 'failed', `${err.message}; ${parts.join('; ')}`);
      throw err;
    }
    const detail = `retired ${g.id}; ${parts.join('; ')}`;
    await this.d.store.updateEvent(event.id!, 'done', detail);
    this.d.telemetry.info(`${policy.pool}: ${detail}`, { event: 'operator', pool: policy.pool, action: 'retire-guest', by: req.by, guest: g.id, outcome: 'done' });
    return { pool: policy.pool, guest: g.id, ...(replacement ? { replacement } : {}), ...(notReplaced ? { notReplaced } : {}), event: { ...event, outcome: 'done', detail } };
  }
}
