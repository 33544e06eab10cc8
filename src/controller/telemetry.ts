// What the controller reports about itself. One seam for logs and metrics, so the controller
// never knows about winston or prom-client, and tests can record what was reported.
import type { EventDirection, GuestHistoryEntry, GuestState, HostSample, MetricValues, PoolMode, ScaleEvent } from '../domain/types.ts';
import type { HookName } from '../domain/policy.ts';
import type { RuleReading } from '../decision/rule-readings.ts';
import type { RepairKind } from './repair-kinds.ts';

export interface ScaleEventReport {
  pool: string;
  direction: EventDirection;
  from: number;
  to: number;
  reason: string;
  outcome: ScaleEvent['outcome'];
  durationMs?: number;
  detail?: string;
}

/**
 * One line of a guest's life. Either a transition (`from` and `to` set: the state left and the
 * state just written to the store; exactly one report per state change, `durationMs` the time
 * spent in `from`, `stepsMs` what the steps done there took), or a step inside one state
 * (`state` set: boot, health, deregister, stop, delete-clone; detail, and how a step failed).
 * `adopt` is reported with from = to: an event, not a change.
 */
export interface GuestStepReport {
  pool: string;
  guest: string;
  /** transitions: launch | clone | register | retire | drain | finish | cleanup | retired | cleaned-up | adopt;
   *  steps: clone | boot | health | register | drain | deregister | stop | delete-clone */
  action: string;
  from?: GuestState | 'none';
  to?: GuestState;
  state?: GuestState;
  durationMs: number;
  /** Durations of the steps done in `from` (transitions), e.g. { boot: 900, health: 2100 }. */
  stepsMs?: Record<string, number>;
  reason?: string;
  error?: { code: string; message: string };
}

/** A serving guest found sick (auto-heal). */
export interface SickReport {
  pool: string;
  guest: string;
  cause: 'gone' | 'health';
  reason: string;
}

/** A lifecycle hook ran for a guest. */
export interface HookReport {
  pool: string;
  guest: string;
  hook: HookName;
  kind: 'command' | 'http';
  /** The guest's state while the hook ran (a hook never changes it by itself). */
  state: GuestState;
  outcome: Exclude<GuestHistoryEntry['outcome'], 'failed'>;
  durationMs: number;
  /** The hook runner's own words (exit status, HTTP status, timeout). */
  detail: string;
}

export interface PoolGaugeReport {
  pool: string;
  byState: Partial<Record<GuestState, number>>;
  /** The policy's warm_pool.size (0: none); the warm guests are byState.warm. */
  warmTarget?: number;
  desired: number;
  /** The size the decision core recommends now (in `mode: act` what it acts towards). */
  recommended: number;
  min: number;
  max: number;
  /** What each rule saw in the decision, with its target or bounds. */
  rules: readonly RuleReading[];
  /** Who decides the pool's size: its policy, or an operator (paused, manual). */
  mode: PoolMode;
  /** decide()'s hold cause (absent when it wants a change). */
  hold?: string;
  /** policy flap_budget: spent of limit in its window (absent without one). */
  flapBudget?: { spent: number; limit: number };
  /** policy contention: the hosts as the tick's sample saw them. */
  hosts?: readonly HostSample[];
}

/** One repair by the reconciler (see reconciler.ts for the kinds). */
export interface RepairReport {
  pool: string;
  kind: RepairKind;
  guest: string;
  detail: string;
}

export interface Telemetry {
  scaleEvent(r: ScaleEventReport): void;
  repair(r: RepairReport): void;
  /** A lifecycle step of a guest begins (the progress display of `gridhost run` on a terminal). */
  guestStepStarted?(r: { pool: string; guest: string; action: string }): void;
  guestStep(r: GuestStepReport): void;
  hook(r: HookReport): void;
  provisioned(pool: string, outcome: 'ok' | 'failed', seconds: number): void;
  retired(pool: string, outcome: 'ok' | 'failed', seconds: number): void;
  /** A scale-out's guest serves: taken from the warm pool or launched cold, `seconds` after the decision. */
  scaleOutServed?(pool: string, path: 'warm' | 'cold', seconds: number): void;
  poolGauges(r: PoolGaugeReport): void;
  guestValues(pool: string, guest: string, values: MetricValues): void;
  forgetGuest(pool: string, guest: string): void;
  forgetPool(pool: string): void;
  evaluationError(pool: string, err: unknown): void;
  launchFailure(pool: string, err: unknown): void;
  breaker(pool: string, open: boolean, detail: string): void;
  /** The pool's balancer cannot take guests (blocked: why), or can again (undefined). Reported on change. */
  poolBlocked(pool: string, blocked: { code: string; message: string } | undefined): void;
  /** A serving guest is sick: out of rotation, to be replaced (warn line, counted). */
  guestSick(r: SickReport): void;
  /** A sick guest's replacement ended: `done` when the new guest serves and the sick one is retired. */
  replaced(pool: string, cause: 'gone' | 'health', outcome: 'done' | 'failed'): void;
  /** Free-form operational line (start-up, reconcile, policy reloads). */
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Records everything; for tests. */
export class RecordingTelemetry implements Telemetry {
  readonly scaleEvents: ScaleEventReport[] = [];
  readonly guestSteps: GuestStepReport[] = [];
  readonly hooks: HookReport[] = [];
  readonly lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  readonly breakers: { pool: string; open: boolean }[] = [];
  readonly blocks: { pool: string; code: string | undefined }[] = [];
  readonly launchFailures: string[] = [];
  /** The error given with each launch failure, in order. */
  readonly launchErrors: unknown[] = [];
  readonly evaluationErrors: string[] = [];
  readonly sick: SickReport[] = [];
  readonly replacements: { pool: string; cause: string; outcome: string }[] = [];
  readonly repairs: RepairReport[] = [];
  readonly served: { pool: string; path: 'warm' | 'cold'; seconds: number }[] = [];
  scaleEvent(r: ScaleEventReport) { this.scaleEvents.push(r); }
  repair(r: RepairReport) { this.repairs.push(r); }
  guestStep(r: GuestStepReport) { this.guestSteps.push(r); }
  hook(r: HookReport) { this.hooks.push(r); }
  provisioned() {}
  retired() {}
  scaleOutServed(pool: string, path: 'warm' | 'cold', seconds: number) { this.served.push({ pool, path, seconds }); }
  poolGauges() {}
  guestValues() {}
  forgetGuest() {}
  forgetPool() {}
  evaluationError(pool: string) { this.evaluationErrors.push(pool); }
  launchFailure(pool: string, err: unknown) { this.launchFailures.push(pool); this.launchErrors.push(err); }
  breaker(pool: string, open: boolean) { this.breakers.push({ pool, open }); }
  poolBlocked(pool: string, blocked: { code: string } | undefined) { this.blocks.push({ pool, code: blocked?.code }); }
  guestSick(r: SickReport) { this.sick.push(r); }
  replaced(pool: string, cause: string, outcome: string) { this.replacements.push({ pool, cause, outcome }); }
  info(msg: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'info', msg, fields }); }
  warn(msg: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'warn', msg, fields }); }
  error(msg: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'error', msg, fields }); }
}
