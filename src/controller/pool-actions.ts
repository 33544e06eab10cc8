// The actions a pool loop starts in the background, so sampling goes on while guests boot or
// drain: scale actions (each a scale event around the actuator's apply), operators' actions and
// rollout or evacuation batches (alone in the slot), cleanup retries and reconciliations
// (nothing starts beside those). A failed action asks for a reconciliation at the next free tick.
import type { Decision, Guest, ScaleDecision } from '../domain/types.ts';
import { scaleEventOf } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { PoolRecord, Store } from '../store/store.ts';
import { mayStartAction, type MemoryEvent, type PoolMemory } from '../decision/pool-memory.ts';
import { type GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import { fenceData, type ActingFence } from './acting-fence.ts';
import type { Actuator, ActOutcome } from './actuator.ts';
import type { LaunchGuard } from './launch-guard.ts';
import type { OperatorQueue } from './operator-queue.ts';
import type { BatchHooks } from './rollout.ts';

export const DEFAULT_RECONCILE_EVERY_MS = 5 * 60_000;

/** How often a guest left `stopping` by a failed cleanup is tried again. Until it is gone the
 *  actuator refuses every decision for the pool (a change is in flight), so it must not wait
 *  for the next restart's reconciler. */
export const STOPPING_RETRY_MS = 30_000;

/** A rollout or an evacuation: each tick it may hand back a batch to run. */
export interface BatchSource {
  tick(policy: Policy, guests: readonly Guest[], rec: PoolRecord | undefined, mayAct: boolean, hooks: BatchHooks): Promise<(() => Promise<void>) | undefined>;
}

export interface PoolActionsDeps {
  store: Store;
  actuator: Actuator;
  clock: Clock;
  telemetry: Telemetry;
  fence?: ActingFence;
  reconcile?: () => Promise<void>;
  reconcileEveryMs?: number;
  guard: LaunchGuard;
  ops: OperatorQueue;
  /** The loop's memory, read and changed through these. */
  memory: () => PoolMemory;
  remember: (policy: Policy, e: MemoryEvent, now: number) => void;
  /** Writes the pool's record (desired, when given). */
  persist: (policy: Policy, now: number, desired?: number) => Promise<void>;
  poke: () => void;
  isStopped: () => boolean;
  recordLaunches: (launched: number, errors: readonly GridhostError[]) => void;
}

export class PoolActions {
  private readonly acting = new Set<Promise<void>>();
  /** Whether a cleanup retry or a reconciliation is among them (nothing may start beside one). */
  private retrying = false;
  /** A driver error asked for a reconciliation at the next free tick. */
  private reconcileDue = false;
  private reconciledAt?: number;
  private stoppingRetriedAt?: number;

  constructor(private readonly pool: string, private readonly d: PoolActionsDeps) {}

  /** How many actions run now. */
  get size(): number {
    return this.acting.size;
  }

  /** A cleanup retry or a reconciliation runs. */
  get exclusive(): boolean {
    return this.retrying;
  }

  /** Settles once the actions running now have. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.acting]);
  }

  /** May `decision` start now, given the actions already running? (Nothing starts beside a cleanup retry.) */
  mayStart(decision: Decision, policy: Policy): boolean {
    if (this.acting.size === 0) return true;
    // An operator's action runs alone.
    if (this.d.ops.running) return false;
    return !this.retrying && mayStartAction(policy, this.d.memory(), decision);
  }

  /** Is a reconciliation due (every reconcileEveryMs, or after an action met a driver error)? */
  reconcileNow(now: number): boolean {
    if (!this.d.reconcile) return false;
    const due = this.reconcileDue || now - (this.reconciledAt ?? now) >= (this.d.reconcileEveryMs ?? DEFAULT_RECONCILE_EVERY_MS);
    this.reconciledAt ??= now;
    return due;
  }

  private background(work: () => Promise<void>): void {
    const p: Promise<void> = work().finally(() => this.acting.delete(p));
    this.acting.add(p);
  }

  /** Runs `work` with nothing beside it; an error is logged as `${what} failed`. */
  private exclusively(what: string, work: () => Promise<void>): void {
    this.retrying = true;
    this.background(async () => {
      try {
        await work();
      } catch (e) {
        const err = wrapError('GH_INTERNAL', e);
        this.d.telemetry.error(`${what} failed`, { pool: this.pool, code: err.code, error: err.message });
      } finally {
        this.retrying = false;
      }
    });
  }

  startReconcile(now: number): void {
    this.reconcileDue = false;
    this.reconciledAt = now;
    this.exclusively('reconciliation', () => this.d.reconcile!());
  }

  /** Tries the cleanup of guests left `stopping` again, at most every STOPPING_RETRY_MS. */
  retryStopping(guests: readonly Guest[], policy: Policy, now: number): void {
    if (this.stoppingRetriedAt !== undefined && now - this.stoppingRetriedAt < STOPPING_RETRY_MS) return;
    this.stoppingRetriedAt = now;
    this.exclusively('cleanup retry', async () => {
      const r = await this.d.actuator.retryStopping(guests, policy, this.d.fence);
      for (const err of r.errors) {
        this.d.telemetry.error(`cleanup of a guest failed again; retrying in ${STOPPING_RETRY_MS / 1000}s (the pool does not scale until it is gone)`, {
          pool: policy.pool, guest: err.details.guest, code: err.code, error: err.message,
        });
      }
    });
  }

  startOperatorOp(run: (p: Policy) => Promise<void>, policy: Policy): void {
    this.background(async () => {
      try {
        await run(policy);
      } catch {
        // The operator's caller gets the error (enqueue); the loop carries on.
      } finally {
        // Anything else queued, and the decision the action changed, come next.
        this.d.poke();
      }
    });
  }

  /** The rollout's (or evacuation's) tick; a batch it starts runs alone in the action slot, as
   *  an operator's action does. True when one started. */
  async replacementBatch(
    what: 'rollout' | 'evacuation', source: BatchSource | undefined,
    policy: Policy, guests: readonly Guest[], rec: PoolRecord | undefined, mayAct: boolean,
  ): Promise<boolean> {
    if (!source) return false;
    let batch: (() => Promise<void>) | undefined;
    try {
      batch = await source.tick(policy, guests, rec, mayAct, { recordLaunches: (n, errors) => this.d.recordLaunches(n, errors) });
    } catch (e) {
      const err = wrapError('GH_INTERNAL', e);
      this.d.telemetry.warn(`${what} check failed`, { pool: policy.pool, code: err.code, error: err.message });
    }
    if (!batch || this.d.isStopped()) return false;
    const run = batch;
    this.d.ops.add({ run: async () => {
      try {
        await run();
      } catch (e) {
        const err = wrapError('GH_INTERNAL', e);
        this.d.telemetry.error(`${what} batch failed`, { pool: policy.pool, code: err.code, error: err.message });
        this.reconcileDue = true;
      }
    } }).catch(() => undefined);
    this.startOperatorOp(this.d.ops.take()!, policy);
    return true;
  }

  /** `by`: this action moves the pool to an operator's manual size (the request is its own event). */
  startActing(decision: ScaleDecision, policy: Policy, actionId: string, started: number, by?: string): void {
    const fence = this.d.fence;
    this.background(async () => {
      let eventId: number | string | undefined;
      try {
        const ev = await this.d.store.appendEvent({ ...scaleEventOf(decision, 'started'), ...(by !== undefined ? { by } : {}), ...(fence ? { holder: fence.holder, token: fence.token } : {}) }, fenceData(fence));
        eventId = ev.id;
        this.d.telemetry.scaleEvent(scaleEventOf(decision, 'started'));
        const r = await this.d.actuator.apply(decision, policy, fence);
        await this.afterAct(decision, policy, r, actionId);
        if (eventId !== undefined) await this.d.store.updateEvent(eventId, r.outcome, r.detail, fenceData(fence));
        this.d.telemetry.scaleEvent({ ...scaleEventOf(decision, r.outcome, r.detail), durationMs: this.d.clock.now() - started });
      } catch (e) {
        const err = wrapError('GH_INTERNAL', e);
        this.d.telemetry.error('scale action failed', { pool: policy.pool, code: err.code, error: err.message });
        this.reconcileDue = true;
        if (eventId !== undefined) await this.d.store.updateEvent(eventId, 'failed', err.message, fenceData(fence)).catch(() => undefined);
        this.d.telemetry.scaleEvent({ ...scaleEventOf(decision, 'failed', err.message), durationMs: this.d.clock.now() - started });
      } finally {
        // Still in flight only if afterAct did not get to finish it (an error on the way).
        this.d.remember(policy, { kind: 'finished', id: actionId, outcome: 'failed' }, this.d.clock.now());
      }
    });
  }

  private async afterAct(decision: ScaleDecision, policy: Policy, r: ActOutcome, actionId: string): Promise<void> {
    const now = this.d.clock.now();
    // Launch outcomes feed the breaker and the "blocked" facts the API shows.
    if (decision.action === 'scale-out') this.d.guard.note(policy, r.launched, r.launchErrors, r.detail, now);
    // Whatever a failed driver step left is compared and repaired at the next free tick.
    if (r.outcome === 'failed') this.reconcileDue = true;
    // The cooldown starts now that the action has finished (see pool-memory.ts).
    this.d.remember(policy, { kind: 'finished', id: actionId, outcome: r.outcome }, now);
    await this.d.persist(policy, now, r.outcome === 'skipped' ? undefined : decision.to);
  }
}
