// The controller's Telemetry seam, fulfilled with winston lines and prom-client metrics.
// The controller reports facts once; this decides which log line and which series they feed.
import type { GuestStepReport, HookReport, PoolGaugeReport, RepairReport, ScaleEventReport, SickReport, Telemetry } from '../controller/telemetry.ts';
import type { MetricValues } from '../domain/types.ts';
import { isGridhostError } from '../errors/errors.ts';
import { logGuestStep, logScaleEvent, type Logger } from './logger.ts';
import type { GridhostMetrics } from './metrics.ts';

export class LogMetricsTelemetry implements Telemetry {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: GridhostMetrics,
  ) {}

  scaleEvent(r: ScaleEventReport): void {
    const level = r.outcome === 'failed' ? 'warn' : 'info';
    logScaleEvent(
      this.logger,
      { pool: r.pool, action: r.direction, from: r.from, to: r.to, reason: r.reason, ...(r.durationMs !== undefined ? { duration_ms: r.durationMs } : {}) },
      level,
      { outcome: r.outcome, ...(r.detail !== undefined ? { detail: r.detail } : {}) },
    );
    // 'started' is followed by a terminal outcome for the same event: count each event once.
    if (r.outcome !== 'started') this.metrics.scaleEvents.inc({ pool: r.pool, direction: r.direction, outcome: r.outcome });
    // A replacement (auto-heal) is no scaling action; a stored event of an older gridhost may name
    // another direction: neither is counted.
    const kind = r.direction === 'resize' ? 'vertical' : r.direction === 'scale-out' || r.direction === 'scale-in' ? 'horizontal' : undefined;
    if (r.outcome !== 'started' && kind !== undefined) this.metrics.scaleActions.inc({ pool: r.pool, kind, outcome: r.outcome });
  }

  guestStep(r: GuestStepReport): void {
    // Transitions at info; the steps inside a state are detail (debug) unless they failed.
    const transition = r.from !== undefined && r.to !== undefined;
    logGuestStep(
      this.logger,
      {
        pool: r.pool, guest: r.guest, action: r.action, duration_ms: r.durationMs,
        ...(transition ? { from: r.from, to: r.to } : { state: r.state }),
        ...(r.stepsMs !== undefined ? { steps_ms: r.stepsMs } : {}),
        ...(r.reason !== undefined ? { reason: r.reason } : {}),
      },
      r.error ? 'warn' : transition ? 'info' : 'debug',
      r.error ? { error: r.error } : {},
    );
  }

  hook(r: HookReport): void {
    logGuestStep(
      this.logger,
      { pool: r.pool, guest: r.guest, action: r.hook, from: r.state, to: r.state, reason: `${r.outcome} (${r.detail})`, duration_ms: r.durationMs },
      r.outcome === 'ok' ? 'info' : 'warn',
      { hook: r.kind, outcome: r.outcome, detail: r.detail },
    );
    this.metrics.hookDuration.observe({ pool: r.pool, hook: r.hook, outcome: r.outcome }, r.durationMs / 1000);
  }

  provisioned(pool: string, outcome: 'ok' | 'failed', seconds: number): void {
    this.metrics.guestProvisionDuration.observe({ pool, outcome }, seconds);
  }

  retired(pool: string, outcome: 'ok' | 'failed', seconds: number): void {
    this.metrics.guestRetireDuration.observe({ pool, outcome }, seconds);
  }

  scaleOutServed(pool: string, path: 'warm' | 'cold', seconds: number): void {
    this.metrics.scaleOutGuests.inc({ pool, path });
    this.metrics.scaleOutToServing.observe({ pool, path }, seconds);
  }

  poolGauges(r: PoolGaugeReport): void {
    this.metrics.setPoolGuests(r.pool, r.byState);
    this.metrics.warmGuests.set({ pool: r.pool }, r.byState.warm ?? 0);
    this.metrics.warmPoolTarget.set({ pool: r.pool }, r.warmTarget ?? 0);
    this.metrics.poolDesiredGuests.set({ pool: r.pool }, r.desired);
    this.metrics.recommendedGuests.set({ pool: r.pool }, r.recommended);
    this.metrics.poolMinGuests.set({ pool: r.pool }, r.min);
    this.metrics.poolMaxGuests.set({ pool: r.pool }, r.max);
    this.metrics.setRuleReadings(r.pool, r.rules);
    this.metrics.setPoolMode(r.pool, r.mode);
    this.metrics.setPoolHold(r.pool, r.hold);
    this.metrics.setFlapBudget(r.pool, r.flapBudget);
    if (r.hosts) this.metrics.setHostCpu(r.hosts);
  }

  guestValues(pool: string, guest: string, values: MetricValues): void {
    this.metrics.setGuestValues(pool, guest, values);
  }

  forgetGuest(pool: string, guest: string): void {
    this.metrics.forgetGuest(pool, guest);
  }

  repair(r: RepairReport): void {
    this.logger.warn('reconciler repaired a mismatch', { event: 'repair', pool: r.pool, kind: r.kind, guest: r.guest, detail: r.detail });
    this.metrics.reconcileRepairs.inc({ kind: r.kind });
  }

  forgetPool(pool: string): void {
    this.metrics.forgetPool(pool);
  }

  evaluationError(pool: string, err: unknown): void {
    this.metrics.policyEvaluationErrors.inc({ pool });
    this.logger.error('policy evaluation failed; pool held', { pool, error: errorFields(err) });
  }

  launchFailure(pool: string, err: unknown): void {
    this.metrics.launchFailures.inc({ pool });
    this.logger.warn('guest launch failed', { pool, error: errorFields(err) });
  }

  breaker(pool: string, open: boolean, detail: string): void {
    this.metrics.circuitBreakerOpen.set({ pool }, open ? 1 : 0);
    // An open breaker means a pool cannot grow: an error an operator must act on.
    this.logger.log(open ? 'error' : 'info', open ? 'launch circuit breaker opened: no launches for this pool until it closes' : 'launch circuit breaker no longer open', { pool, event: 'breaker', detail });
  }

  poolBlocked(pool: string, blocked: { code: string; message: string } | undefined): void {
    this.metrics.poolBlocked.set({ pool }, blocked ? 1 : 0);
    if (blocked) this.logger.error('pool blocked: its balancer cannot register guests, so none is launched or retired until this is fixed', { pool, event: 'blocked', error: blocked });
    else this.logger.info('pool no longer blocked: its balancer can register guests again', { pool, event: 'blocked' });
  }

  guestSick(r: SickReport): void {
    this.metrics.guestsSick.inc({ pool: r.pool, cause: r.cause });
    logGuestStep(this.logger, { pool: r.pool, guest: r.guest, action: 'sick', from: 'healthy', to: 'sick', reason: `${r.reason}; out of rotation, a replacement follows`, duration_ms: 0 }, 'warn', { cause: r.cause });
  }

  replaced(pool: string, cause: 'gone' | 'health', outcome: 'done' | 'failed'): void {
    this.metrics.guestReplacements.inc({ pool, cause, outcome });
  }

  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.logger.info(msg, fields);
  }

  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.logger.warn(msg, fields);
  }

  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.logger.error(msg, fields);
  }
}

function errorFields(err: unknown): { code: string; message: string } {
  if (isGridhostError(err)) return { code: err.code, message: err.message };
  return { code: 'GH_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
