// What the controller reports about itself. One seam for logs and metrics, so the controller
// never knows about winston or prom-client, and tests can record what was reported.
import type { Direction, GuestState, MetricValues } from '../domain/types.ts';

export interface ScaleEventReport {
  pool: string;
  direction: Direction;
  from: number;
  to: number;
  reason: string;
  outcome: 'started' | 'done' | 'skipped' | 'failed';
  durationMs?: number;
  detail?: string;
}

export interface GuestStepReport {
  pool: string;
  guest: string;
  /** clone | boot | health | register | drain | deregister | stop | delete-clone | adopt | cleanup */
  action: string;
  from: GuestState | 'none';
  to: GuestState;
  durationMs: number;
  reason?: string;
  error?: { code: string; message: string };
}

export interface PoolGaugeReport {
  pool: string;
  byState: Partial<Record<GuestState, number>>;
  desired: number;
  min: number;
  max: number;
}

export interface Telemetry {
  scaleEvent(r: ScaleEventReport): void;
  guestStep(r: GuestStepReport): void;
  provisioned(pool: string, outcome: 'ok' | 'failed', seconds: number): void;
  retired(pool: string, outcome: 'ok' | 'failed', seconds: number): void;
  poolGauges(r: PoolGaugeReport): void;
  guestValues(pool: string, guest: string, values: MetricValues): void;
  forgetGuest(pool: string, guest: string): void;
  forgetPool(pool: string): void;
  evaluationError(pool: string, err: unknown): void;
  launchFailure(pool: string, err: unknown): void;
  breaker(pool: string, open: boolean, detail: string): void;
  /** Free-form operational line (start-up, reconcile, policy reloads). */
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Records everything; for tests. */
export class RecordingTelemetry implements Telemetry {
  readonly scaleEvents: ScaleEventReport[] = [];
  readonly guestSteps: GuestStepReport[] = [];
  readonly lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  readonly breakers: { pool: string; open: boolean }[] = [];
  readonly launchFailures: string[] = [];
  /** The error given with each launch failure, in order. */
  readonly launchErrors: unknown[] = [];
  readonly evaluationErrors: string[] = [];
  scaleEvent(r: ScaleEventReport) { this.scaleEvents.push(r); }
  guestStep(r: GuestStepReport) { this.guestSteps.push(r); }
  provisioned() {}
  retired() {}
  poolGauges() {}
  guestValues() {}
  forgetGuest() {}
  forgetPool() {}
  evaluationError(pool: string) { this.evaluationErrors.push(pool); }
  launchFailure(pool: string, err: unknown) { this.launchFailures.push(pool); this.launchErrors.push(err); }
  breaker(pool: string, open: boolean) { this.breakers.push({ pool, open }); }
  info(msg: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'info', msg, fields }); }
  warn(msg: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'warn', msg, fields }); }
  error(msg: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'error', msg, fields }); }
}
