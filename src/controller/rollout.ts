// Rolling a pool over to its current template and base image (issue 12): guests whose recorded
// digests differ from what their driver says now (decision/rollout-plan.ts) are replaced one
// batch at a time, with surge: new guests are launched and must serve (healthy, registered)
// before as many old ones are drained and retired, so the pool never drops below its size
// (rollout.max_unavailable may allow that, 0 by default). New guests that fail stop the rollout
// (state failed, an event, an error line, the API's pool view) and the old guests stay.
//
// The rollout's state lives in the pool's record (RolloutRecord, compare-and-set under the
// pool's fence): a restarted gridhost or a new leader reads it and continues (a batch cut
// short is reported; the reconciler has undone its half-made guests and finished its
// retirements). One batch runs in the pool loop's action slot, alone (like an operator's
// action), and only on a tick that has no scale action to start: scaling decisions go on
// between batches, and hold while one runs (bounded by boot and drain timeouts).
import type { Policy } from '../domain/policy.ts';
import { DEFAULT_ROLLOUT } from '../domain/policy.ts';
import { GUEST_STATE_FACTS, LIVE_STATES, type Guest, type ScaleEvent } from '../domain/types.ts';
import { boundsAt } from '../decision/schedule.ts';
import { digestKey, outdatedGuests, outdatedWarm, planBatch, retireAfterCount, type BatchPlan, type RolloutRecord, type SourceDigest } from '../decision/rollout-plan.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import type { PoolRecord, Store } from '../store/store.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import { fenceData, type ActingFence } from './acting-fence.ts';
import type { Clock } from './clock.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import { savePoolWith } from './save-pool-with.ts';
import type { Telemetry } from './telemetry.ts';

/** The current digests are asked of the driver at most this often (a Xen check is one `stat`
 *  per dom0 over SSH; a local one a stat per image file). */
export const DIGEST_CHECK_MS = 5_000;

export interface RolloutDeps {
  store: Store;
  lifecycle: GuestLifecycle;
  clock: Clock;
  telemetry: Telemetry;
  hypervisorFor: (driver: string) => Hypervisor;
  fence?: ActingFence;
}

/** What a batch may need from the loop: counting its launches toward the circuit breaker. */
export interface BatchHooks {
  recordLaunches(launched: number, errors: readonly GridhostError[]): void;
}

/** What the API shows of a pool's rollout (times as epoch ms; the API formats them). */
export interface RolloutStatus {
  mode: 'manual' | 'auto';
  /** Guests made from another template or base image than their host's current ones. */
  outdated: string[];
  checkedAt?: number;
  /** Hosts whose current digests could not be had (their guests count as current meanwhile). */
  unknown?: { host: string; error: string }[];
  /** Why the next batch of a running rollout waits. */
  waiting?: string;
  record?: RolloutRecord;
}

export class PoolRollout {
  private current = new Map<string, SourceDigest | undefined>();
  private errors = new Map<string, string>();
  private checkedAt?: number;
  private outdated: string[] = [];
  private waiting?: string;
  private record?: RolloutRecord;
  /** A batch this process runs (so a `batch` in the record is ours, not one cut short). */
  private running = false;

  constructor(private readonly pool: string, private readonly d: RolloutDeps) {}

  status(policy: Policy): RolloutStatus {
    const unknown = [...this.errors.entries()].map(([host, error]) => ({ host, error }));
    return {
      mode: (policy.rollout ?? DEFAULT_ROLLOUT).mode,
      outdated: [...this.outdated],
      ...(this.checkedAt !== undefined ? { checkedAt: this.checkedAt } : {}),
      ...(unknown.length > 0 ? { unknown } : {}),
      ...(this.waiting !== undefined && this.record?.state === 'running' ? { waiting: this.waiting } : {}),
      ...(this.record ? { record: this.record } : {}),
    };
  }

  /** The pool's warm guests made from another template or image, as far as the last check knows
   *  their hosts' current digests (the hosts of counted and warm guests are checked). */
  outdatedWarm(guests: readonly Guest[]): string[] {
    return outdatedWarm(guests, this.current).map((g) => g.id);
  }

  /** Ask the driver for the current digests of every host the pool's guests are on. */
  private async refresh(policy: Policy, guests: readonly Guest[], force: boolean): Promise<void> {
    const now = this.d.clock.now();
    if (!force && this.checkedAt !== undefined && now - this.checkedAt < DIGEST_CHECK_MS) return;
    const hv = this.d.hypervisorFor(policy.guest.driver);
    // Warm guests' hosts too: a stale warm guest on a host with no counted guest would be kept
    // (and taken) for ever otherwise.
    const hosts = [...new Set(guests.filter((g) => (GUEST_STATE_FACTS[g.state].counted || g.state === 'warm') && g.host !== '').map((g) => g.host))].sort();
    const current = new Map<string, SourceDigest | undefined>();
    const errors = new Map<string, string>();
    await Promise.all(hosts.map(async (host) => {
      if (!hv.sourceDigest) return errors.set(host, `the ${hv.name} driver cannot digest templates and images`);
      try {
        current.set(host, await hv.sourceDigest(policy, host));
      } catch (e) {
        current.set(host, undefined);
        errors.set(host, wrapError('GH_TEMPLATE_INVALID', e).message);
      }
    }));
    const said = (m: Map<string, string>) => [...m.entries()].map(([h, e]) => `${h}: ${e}`).join('; ');
    if (said(errors) !== said(this.errors) && errors.size > 0) this.d.telemetry.warn('rollout: cannot tell whether guests are outdated on some hosts; their guests count as current', { pool: this.pool, errors: said(errors) });
    this.current = current;
    this.errors = errors;
    this.checkedAt = now;
  }

  /** Write the pool record's rollout (compare-and-set, fenced); `change` undefined = no write. */
  private async write(policy: Policy, change: (r: RolloutRecord | undefined) => RolloutRecord | undefined): Promise<RolloutRecord | undefined> {
    this.d.fence?.check();
    let wrote: RolloutRecord | undefined;
    await savePoolWith(this.d.store, this.pool, (rec: PoolRecord | undefined) => {
      const next = change(rec?.rollout);
      wrote = next;
      if (next === undefined) return undefined;
      return { ...(rec ?? { pool: this.pool, file: policy.file, managed: true, desired: policy.min, updatedAt: 0 }), rollout: next, updatedAt: this.d.clock.now() };
    }, fenceData(this.d.fence));
    if (wrote !== undefined) this.record = wrote;
    return wrote;
  }

  private event(policy: Policy, size: number, reason: string, outcome: ScaleEvent['outcome'], detail?: string, by?: string): ScaleEvent {
    const b = boundsAt(policy, this.d.clock.now());
    return {
      pool: this.pool, at: this.d.clock.now(), direction: 'replace', from: size, to: size, reason,
      inputs: { series: {}, min: b.min, max: b.max, schedules: b.active }, outcome,
      ...(detail !== undefined ? { detail } : {}), ...(by !== undefined ? { by } : {}),
      ...(this.d.fence ? { holder: this.d.fence.holder, token: this.d.fence.token } : {}),
    };
  }

  private async report(e: ScaleEvent): Promise<ScaleEvent | undefined> {
    this.d.telemetry.scaleEvent({ pool: e.pool, direction: e.direction, from: e.from, to: e.to, reason: e.reason, outcome: e.outcome, ...(e.detail !== undefined ? { detail: e.detail } : {}) });
    return this.d.store.appendEvent(e, fenceData(this.d.fence)).catch(() => undefined);
  }

  /**
   * Start a rollout (an operator's request, or rollout: auto). Resolves with the guests it will
   * replace; none (every guest is current) starts nothing.
   */
  async start(policy: Policy, guests: readonly Guest[], by: string, reason: string): Promise<{ outdated: string[]; record?: RolloutRecord }> {
    await this.refresh(policy, guests, true);
    this.outdated = outdatedGuests(guests, this.current).map((g) => g.id);
    if (this.outdated.length === 0) return { outdated: [] };
    const now = this.d.clock.now();
    const target = digestKey(this.current);
    const rec = await this.write(policy, () => ({ state: 'running', by, reason, startedAt: now, target, batches: 0, replaced: [], launched: [] }));
    const size = guests.filter((g) => GUEST_STATE_FACTS[g.state].counted).length;
    await this.report(this.event(policy, size, `rollout started by ${by}: ${this.outdated.length} guest(s) made from another template or base image${reason ? ` (${reason})` : ''}`, 'started', `outdated: ${this.outdated.join(', ')}`, by));
    return { outdated: [...this.outdated], ...(rec ? { record: rec } : {}) };
  }

  /**
   * Every tick: follow the current digests and the record, start a rollout: auto, finish a
   * rollout with nothing left to replace, and when `mayAct` (nothing else runs or waits for the
   * pool) return the next batch to run alone in the action slot.
   */
  async tick(policy: Policy, guests: readonly Guest[], rec: PoolRecord | undefined, mayAct: boolean, hooks: BatchHooks): Promise<(() => Promise<void>) | undefined> {
    await this.refresh(policy, guests, false);
    this.outdated = outdatedGuests(guests, this.current).map((g) => g.id);
    // While a batch of ours runs, its own writes are the record's news; when the loop is busy
    // the record the tick read may predate a batch that just ended: nothing is written then.
    if (this.running) return undefined;
    this.record = mayAct ? (await this.d.store.getPool(this.pool))?.rollout : rec?.rollout ?? this.record;
    if (!mayAct && this.record?.state === 'running') return this.wait('the pool is busy (a scale or operator\'s action, a pause, a blocked balancer or an open breaker)', policy);
    const settings = policy.rollout ?? DEFAULT_ROLLOUT;
    let r = this.record;
    if (r?.state !== 'running') {
      // rollout: auto starts for digests it has not failed on (a failed rollout waits for a fix).
      const failedHere = r?.state === 'failed' && r.target === digestKey(this.current);
      if (settings.mode !== 'auto' || this.outdated.length === 0 || failedHere || !mayAct || this.errors.size > 0) return undefined;
      r = (await this.start(policy, guests, 'policy', 'rollout: auto')).record;
      if (r === undefined) return undefined;
    }
    if (r.batch !== undefined) {
      // A batch of an earlier leader was cut short: what it left the reconciler has repaired.
      this.d.telemetry.warn('rollout: a batch was cut short (gridhost restarted or the pool changed leader); the rollout continues', { pool: this.pool, batch: r.batches + 1, retiring: r.batch.retiring });
      r = await this.write(policy, (x) => (x?.state === 'running' ? { ...x, batch: undefined } : undefined)) ?? r;
    }
    const plan = planBatch({ settings, guests, outdated: new Set(this.outdated), max: boundsAt(policy, this.d.clock.now()).max, now: this.d.clock.now(), ...(r.nextBatchAt !== undefined ? { nextBatchAt: r.nextBatchAt } : {}) });
    if (plan.kind === 'done') {
      if (this.errors.size > 0) return this.wait('some hosts could not be checked', policy);
      const size = guests.filter((g) => GUEST_STATE_FACTS[g.state].counted).length;
      const done = await this.write(policy, (x) => (x?.state === 'running' ? { ...x, state: 'done', finishedAt: this.d.clock.now(), batch: undefined } : undefined));
      if (done) {
        const detail = `replaced ${done.replaced.length} guest(s) in ${done.batches} batch(es): ${done.replaced.join(', ') || 'none'} -> ${done.launched.join(', ') || 'none'}`;
        this.d.telemetry.info(`rollout of ${this.pool} done: ${detail}`, { pool: this.pool, event: 'rollout' });
        await this.report(this.event(policy, size, `rollout done (started by ${done.by})`, 'done', detail));
      }
      return undefined;
    }
    if (plan.kind === 'wait') return this.wait(plan.why, policy);
    this.waiting = undefined;
    return async () => {
      this.running = true;
      try {
        await this.runBatch(policy, hooks);
      } finally {
        this.running = false;
      }
    };
  }

  private wait(why: string, _policy: Policy): undefined {
    if (why !== this.waiting) this.d.telemetry.info(`rollout of ${this.pool} waits: ${why}`, { pool: this.pool, event: 'rollout' });
    this.waiting = why;
    return undefined;
  }

  /** One batch, re-planned from the store's guests now (the decision is re-checked before acting). */
  private async runBatch(policy: Policy, hooks: BatchHooks): Promise<void> {
    const settings = policy.rollout ?? DEFAULT_ROLLOUT;
    const guests = await this.d.store.listGuests({ pool: this.pool, states: LIVE_STATES });
    const r0 = this.record;
    if (r0?.state !== 'running') return;
    const plan: BatchPlan = planBatch({ settings, guests, outdated: new Set(this.outdated), max: boundsAt(policy, this.d.clock.now()).max, now: this.d.clock.now(), ...(r0.nextBatchAt !== undefined ? { nextBatchAt: r0.nextBatchAt } : {}) });
    if (plan.kind !== 'batch') return;
    const old = [...plan.retireFirst, ...plan.retireAfter];
    const started = this.d.clock.now();
    const r = await this.write(policy, (x) => (x?.state === 'running' ? { ...x, batch: { at: started, retiring: old.map((g) => g.id) } } : undefined));
    if (!r) return;
    const n = r.batches + 1;
    const size = guests.filter((g) => GUEST_STATE_FACTS[g.state].counted).length;
    const why = `rollout batch ${n}: replace ${old.map((g) => g.id).join(', ')} (made from another template or base image)`;
    const ev = await this.report(this.event(policy, size, why, 'started'));
    const retired: string[] = [];
    const problems: string[] = [];
    const retire = async (gs: readonly Guest[]) => {
      const res = await Promise.allSettled(gs.map((g) => this.d.lifecycle.retire(g, policy, why, this.d.fence)));
      res.forEach((x, i) => (x.status === 'fulfilled' ? retired.push(gs[i]!.id) : problems.push(`retiring ${gs[i]!.id}: ${wrapError('GH_STOP_FAILED', x.reason).message}`)));
    };
    await retire(plan.retireFirst);
    const launches = await Promise.allSettled(Array.from({ length: plan.launch }, () => this.d.lifecycle.launch(policy, undefined, this.d.fence)));
    const launched = launches.flatMap((x) => (x.status === 'fulfilled' ? [x.value.guest.id] : []));
    const failures = launches.flatMap((x) => (x.status === 'rejected' ? [wrapError('GH_BOOT_FAILED', x.reason)] : []));
    hooks.recordLaunches(launched.length, failures);
    // One old guest per new one that serves: the size is what it was.
    await retire(plan.retireAfter.slice(0, retireAfterCount(plan, launched.length)));
    const now = this.d.clock.now();
    const failure = failures.length > 0 ? { at: now, code: failures[0]!.code, message: failures.map((e) => e.message).join('; '), guests: failures.map((e) => e.details['guest']).filter((g): g is string => typeof g === 'string') } : undefined;
    const detail = `launched ${launched.join(', ') || 'none'}; retired ${retired.join(', ') || 'none'}${problems.length ? `; ${problems.join('; ')}` : ''}${failure ? `; ${failures.length} new guest(s) failed: ${failure.message}` : ''}`;
    await this.write(policy, (x) => (x?.state === 'running' ? {
      ...x, batch: undefined, batches: x.batches + 1, replaced: [...x.replaced, ...retired].slice(-100), launched: [...x.launched, ...launched].slice(-100),
      nextBatchAt: now + settings.pauseMs,
      ...(failure ? { state: 'failed' as const, failure, finishedAt: now } : {}),
    } : undefined));
    if (ev?.id !== undefined) await this.d.store.updateEvent(ev.id, failure ? 'failed' : 'done', detail, fenceData(this.d.fence)).catch(() => undefined);
    this.d.telemetry.scaleEvent({ pool: this.pool, direction: 'replace', from: size, to: size, reason: why, outcome: failure ? 'failed' : 'done', detail, durationMs: now - started });
    if (failure) {
      this.d.telemetry.error(`rollout of ${this.pool} stopped: new guests failed; the old guests stay`, { pool: this.pool, event: 'rollout', code: failure.code, error: failure.message });
      await this.report(this.event(policy, size, 'rollout stopped: new guests failed, the old guests stay', 'failed', failure.message));
    }
    // The digests are checked afresh for the next batch.
    this.checkedAt = undefined;
  }
}
