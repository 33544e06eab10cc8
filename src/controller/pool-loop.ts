// One control loop per pool. Ticks never overlap: the next tick is scheduled only when the
// previous one has finished. Acting runs in the background so sampling goes on while guests
// boot or drain; while it runs, every decision is a hold (one change in flight per pool).
//
//            start()                      timer(interval)
//  stopped ─────────► waiting ─────────────────────────────► sampling ──► deciding
//     ▲                  ▲  ▲                                                 │
//     │ stop()           │  └──────────────── hold / breaker open / busy ─────┤
//     │                  │                                                    │ scale
//     │                  └─ acting (background: launch, retire, cleanup retry) ◄┘
//     └── (stop() waits for acting to finish)
import type { Decision, Guest, PoolSample } from '../domain/types.ts';
import { GUEST_STATES } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Store } from '../store/store.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { decide } from '../decision/decide.ts';
import { boundsAt } from '../decision/schedule.ts';
import type { Recommendation } from '../decision/decide-types.ts';
import { wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import type { Actuator, ActOutcome } from './actuator.ts';
import { breakerMode, breakerRemainingMs, closedBreaker, recordLaunchFailure, recordLaunchSuccess, type BreakerState } from './circuit-breaker.ts';

export type LoopState = 'stopped' | 'waiting' | 'sampling' | 'deciding';

export interface PoolLoopDeps {
  store: Store;
  metrics: MetricsSource;
  actuator: Actuator;
  clock: Clock;
  telemetry: Telemetry;
  /** Guests on a host that stopped answering: left out of the pool's size so it is rebuilt elsewhere. */
  isLost?: (g: Guest) => boolean;
}

/** What the API shows about a pool. */
export interface PoolStatus {
  pool: string;
  state: LoopState;
  acting: boolean;
  policy: Policy;
  lastDecision?: Decision;
  samples: readonly PoolSample[];
  breaker: { mode: 'closed' | 'open' | 'half-open'; consecutiveFailures: number; remainingMs: number };
}

const LIVE_STATES = GUEST_STATES.filter((s) => s !== 'gone' && s !== 'failed');
/** How often a guest left `stopping` by a failed cleanup is tried again. Until it is gone the
 *  actuator refuses every decision for the pool (a change is in flight), so it must not wait
 *  for the next restart's reconciler. */
export const STOPPING_RETRY_MS = 30_000;

export class PoolLoop {
  private state: LoopState = 'stopped';
  /** Separate from `state`, which a tick in progress overwrites. */
  private running = false;
  private cancelTimer?: () => void;
  private acting?: Promise<void>;
  private samples: PoolSample[] = [];
  private recommendations: Recommendation[] = [];
  private breakerState: BreakerState = closedBreaker;
  private lastDecision?: Decision;
  private tickRunning?: Promise<void>;
  private breakerSkipReportedFor?: number;
  private lostReported = '';
  private stoppingRetriedAt?: number;
  /** Whether the breaker was last reported open (gridhost_circuit_breaker_open = 1). */
  private breakerReportedOpen = false;

  constructor(private policy: Policy, private readonly d: PoolLoopDeps) {}

  get pool(): string {
    return this.policy.pool;
  }

  /** A changed policy applies from the next tick; samples and breaker state carry over. */
  updatePolicy(p: Policy): void {
    this.policy = p;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.state = 'waiting';
    this.schedule(0);
  }

  /** Stop ticking and wait for a running tick and action to finish. Guests are left alone. */
  async stop(): Promise<void> {
    this.running = false;
    this.state = 'stopped';
    this.cancelTimer?.();
    await this.tickRunning;
    await this.acting;
  }

  /** Resolves when the current background action (if any) has finished; for tests and shutdown. */
  async idle(): Promise<void> {
    await this.tickRunning;
    await this.acting;
  }

  status(): PoolStatus {
    const now = this.d.clock.now();
    const cfg = { failures: this.policy.breaker.failures, openMs: this.policy.breaker.openMs };
    return {
      pool: this.pool,
      state: this.state,
      acting: this.acting !== undefined,
      policy: this.policy,
      lastDecision: this.lastDecision,
      samples: this.samples,
      breaker: {
        mode: breakerMode(this.breakerState, cfg, now),
        consecutiveFailures: this.breakerState.consecutiveFailures,
        remainingMs: breakerRemainingMs(this.breakerState, cfg, now),
      },
    };
  }

  recommendationsView(): readonly Recommendation[] {
    return this.recommendations;
  }

  /** A method, not a field read, because stop() can run while a tick awaits. */
  private isStopped(): boolean {
    return !this.running;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.cancelTimer = this.d.clock.setTimer(ms, () => {
      const started = this.d.clock.now();
      this.tickRunning = this.tick().finally(() => {
        this.tickRunning = undefined;
        if (this.running) {
          this.state = 'waiting';
          // Keep the sampling cadence: a slow tick shortens the wait, never overlaps.
          this.schedule(Math.max(0, this.policy.sampling.intervalMs - (this.d.clock.now() - started)));
        } else {
          this.state = 'stopped';
        }
      });
    });
  }

  /** One evaluation: sample, decide, maybe start acting. Never throws. */
  async tick(): Promise<void> {
    const policy = this.policy;
    try {
      this.state = 'sampling';
      const now = this.d.clock.now();
      const guests = this.withoutLost(await this.d.store.listGuests({ pool: policy.pool, states: LIVE_STATES }));
      const sample = await this.sample(guests, now);
      this.samples.push(sample);
      const oldest = now - policy.sampling.windowMs;
      while (this.samples.length > 0 && this.samples[0]!.at < oldest) this.samples.shift();

      this.state = 'deciding';
      const rec = await this.d.store.getPool(policy.pool);
      const result = decide(policy, {
        guests,
        samples: this.samples,
        lastScaleOutAt: rec?.lastScaleOutAt,
        lastScaleInAt: rec?.lastScaleInAt,
        recommendations: this.recommendations,
      }, now);
      if (result.recommendation) this.recommendations.push(result.recommendation);
      const keepFrom = now - policy.scaleIn.stabilizationMs;
      this.recommendations = this.recommendations.filter((r) => r.at >= keepFrom);
      const decision = result.decision;
      this.lastDecision = decision;
      this.reportGauges(policy, guests, decision, now);
      const cfg = { failures: policy.breaker.failures, openMs: policy.breaker.openMs };
      if (this.breakerReportedOpen && breakerMode(this.breakerState, cfg, now) !== 'open') {
        // The open period is over even if no launch follows (load may have gone): say so.
        this.breakerReportedOpen = false;
        this.d.telemetry.breaker(policy.pool, false, 'open period over: the next launch is a trial (half-open)');
      }
      if (this.acting || this.isStopped()) return;
      if (guests.some((g) => g.state === 'stopping')) {
        if (this.stoppingRetriedAt === undefined || now - this.stoppingRetriedAt >= STOPPING_RETRY_MS) {
          this.stoppingRetriedAt = now;
          this.startRetryStopping(guests, policy);
        }
        return;
      }
      if (decision.direction === 'hold') return;

      if (decision.direction === 'scale-out' && breakerMode(this.breakerState, cfg, now) === 'open') {
        // Reported once per open period, not every tick.
        if (this.breakerSkipReportedFor !== this.breakerState.openedAt) {
          this.breakerSkipReportedFor = this.breakerState.openedAt;
          this.d.telemetry.scaleEvent({ ...decision, outcome: 'skipped', detail: `circuit breaker open for another ${Math.ceil(breakerRemainingMs(this.breakerState, cfg, now) / 1000)}s` });
        }
        return;
      }
      this.startActing(decision, policy);
    } catch (e) {
      const err = wrapError('GH_INTERNAL', e);
      // evaluationError logs it (one error line) and counts it.
      this.d.telemetry.evaluationError(policy.pool, err);
    }
  }

  private withoutLost(guests: Guest[]): Guest[] {
    const isLost = this.d.isLost;
    if (!isLost) return guests;
    const lost = guests.filter(isLost);
    const key = lost.map((g) => g.id).sort().join(',');
    if (key !== this.lostReported) {
      this.lostReported = key;
      if (lost.length > 0) this.d.telemetry.warn('guests on hosts that stopped answering count as lost', { pool: this.pool, guests: lost.map((g) => `${g.id}@${g.host}`) });
      else this.d.telemetry.info('no guests lost any more', { pool: this.pool });
    }
    return lost.length === 0 ? guests : guests.filter((g) => !isLost(g));
  }

  private async sample(guests: readonly Guest[], now: number): Promise<PoolSample> {
    const measurable = guests.filter((g) => g.state === 'healthy' && g.address);
    const sample: PoolSample = { at: now, guests: {} };
    try {
      const values = await this.d.metrics.sample(measurable);
      for (const [id, v] of values) {
        sample.guests[id] = v;
        this.d.telemetry.guestValues(this.pool, id, v);
      }
    } catch (e) {
      // The whole source is down: an empty sample is what the decision core calls "missing".
      this.d.telemetry.warn('metrics source failed', { pool: this.pool, error: wrapError('GH_HOST_UNREACHABLE', e).message });
    }
    await this.d.store.appendSample(this.pool, sample).catch((e) => this.d.telemetry.warn('could not record sample', { pool: this.pool, error: String(e) }));
    return sample;
  }

  private reportGauges(policy: Policy, guests: readonly Guest[], decision: Decision, now: number): void {
    const byState: Partial<Record<string, number>> = {};
    for (const s of GUEST_STATES) byState[s] = 0;
    for (const g of guests) byState[g.state] = (byState[g.state] ?? 0) + 1;
    const b = boundsAt(policy, now);
    this.d.telemetry.poolGauges({ pool: policy.pool, byState, desired: decision.to, min: b.min, max: b.max });
  }

  private startActing(decision: Decision, policy: Policy): void {
    const started = this.d.clock.now();
    this.acting = (async () => {
      let eventId: number | string | undefined;
      try {
        const ev = await this.d.store.appendEvent({ ...decision, outcome: 'started' });
        eventId = ev.id;
        this.d.telemetry.scaleEvent({ ...decision, outcome: 'started' });
        const r = await this.d.actuator.apply(decision, policy);
        await this.afterAct(decision, policy, r);
        if (eventId !== undefined) await this.d.store.updateEvent(eventId, r.outcome, r.detail);
        this.d.telemetry.scaleEvent({ ...decision, outcome: r.outcome, detail: r.detail, durationMs: this.d.clock.now() - started });
      } catch (e) {
        const err = wrapError('GH_INTERNAL', e);
        this.d.telemetry.error('scale action failed', { pool: policy.pool, code: err.code, error: err.message });
        if (eventId !== undefined) await this.d.store.updateEvent(eventId, 'failed', err.message).catch(() => undefined);
        this.d.telemetry.scaleEvent({ ...decision, outcome: 'failed', detail: err.message, durationMs: this.d.clock.now() - started });
      } finally {
        this.acting = undefined;
      }
    })();
  }

  private startRetryStopping(guests: readonly Guest[], policy: Policy): void {
    this.acting = (async () => {
      try {
        const r = await this.d.actuator.retryStopping(guests, policy);
        for (const err of r.errors) {
          this.d.telemetry.error(`cleanup of a guest failed again; retrying in ${STOPPING_RETRY_MS / 1000}s (the pool does not scale until it is gone)`, {
            pool: policy.pool, guest: err.details.guest, code: err.code, error: err.message,
          });
        }
      } catch (e) {
        const err = wrapError('GH_INTERNAL', e);
        this.d.telemetry.error('cleanup retry failed', { pool: policy.pool, code: err.code, error: err.message });
      } finally {
        this.acting = undefined;
      }
    })();
  }

  private async afterAct(decision: Decision, policy: Policy, r: ActOutcome): Promise<void> {
    const now = this.d.clock.now();
    const cfg = { failures: policy.breaker.failures, openMs: policy.breaker.openMs };
    if (decision.direction === 'scale-out') {
      const wasOpen = breakerMode(this.breakerState, cfg, now) !== 'closed';
      // One report per failed launch, each with its own error (and code).
      for (const err of r.launchErrors) this.d.telemetry.launchFailure(policy.pool, err);
      if (r.launchFailures > 0) {
        for (let i = 0; i < r.launchFailures; i++) this.breakerState = recordLaunchFailure(this.breakerState, cfg, now);
        if (breakerMode(this.breakerState, cfg, now) === 'open') {
          this.breakerReportedOpen = true;
          this.d.telemetry.breaker(policy.pool, true, `${this.breakerState.consecutiveFailures} consecutive launch failures; no launches for ${Math.round(policy.breaker.openMs / 1000)}s: ${r.detail}`);
        }
      } else if (r.launched > 0) {
        this.breakerState = recordLaunchSuccess(this.breakerState);
        if (wasOpen) this.d.telemetry.breaker(policy.pool, false, 'a launch succeeded; breaker closed');
      }
    }
    if (r.outcome === 'skipped') return;
    const rec = await this.d.store.getPool(policy.pool);
    await this.d.store.upsertPool({
      pool: policy.pool,
      file: policy.file,
      managed: true,
      desired: decision.to,
      lastScaleOutAt: decision.direction === 'scale-out' ? now : rec?.lastScaleOutAt,
      lastScaleInAt: decision.direction === 'scale-in' ? now : rec?.lastScaleInAt,
      updatedAt: now,
    });
  }
}
