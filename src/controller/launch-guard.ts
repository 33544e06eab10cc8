// A pool's launch circuit breaker as the loop uses it: the pure breaker state (circuit-breaker.ts)
// plus what was reported about it (once per change, so logs and gridhost_circuit_breaker_open
// follow it) and the last launch failure (what the API shows as blocking the pool).
import type { Policy } from '../domain/policy.ts';
import type { GridhostError } from '../errors/errors.ts';
import { breakerMode, breakerRemainingMs, closedBreaker, recordLaunchFailure, recordLaunchSuccess, type BreakerState } from './circuit-breaker.ts';
import type { Telemetry } from './telemetry.ts';

export type BreakerMode = 'closed' | 'open' | 'half-open';

export interface LaunchError {
  at: number;
  code: string;
  message: string;
}

export class LaunchGuard {
  private breakerState: BreakerState = closedBreaker;
  /** Whether the breaker was last reported open (gridhost_circuit_breaker_open = 1). */
  private reportedOpen = false;
  private skipReportedFor?: number;
  private lastError?: LaunchError;

  constructor(private readonly pool: string, private readonly telemetry: Telemetry) {}

  private cfg(policy: Policy) {
    return { failures: policy.breaker.failures, openMs: policy.breaker.openMs };
  }

  mode(policy: Policy, now: number): BreakerMode {
    return breakerMode(this.breakerState, this.cfg(policy), now);
  }

  view(policy: Policy, now: number): { mode: BreakerMode; consecutiveFailures: number; remainingMs: number } {
    return { mode: this.mode(policy, now), consecutiveFailures: this.breakerState.consecutiveFailures, remainingMs: breakerRemainingMs(this.breakerState, this.cfg(policy), now) };
  }

  /** Remaining open time (0 when closed or half-open), for the tick's plan. */
  openFor(policy: Policy, now: number): { openForMs: number; consecutiveFailures: number } {
    return { openForMs: this.mode(policy, now) === 'open' ? breakerRemainingMs(this.breakerState, this.cfg(policy), now) : 0, consecutiveFailures: this.breakerState.consecutiveFailures };
  }

  /** The breaker state, for the pool's record (a restart or another process takes it up). */
  state(): BreakerState {
    return this.breakerState;
  }

  /** Take up the breaker state an earlier holder of the pool recorded. */
  restore(state: BreakerState): void {
    this.breakerState = { ...state };
  }

  lastLaunchError(): LaunchError | undefined {
    return this.lastError;
  }

  /** Each tick: the open period may have ended with no launch to say so (load may have gone). */
  tick(policy: Policy, now: number): void {
    if (this.reportedOpen && this.mode(policy, now) !== 'open') {
      this.reportedOpen = false;
      this.telemetry.breaker(this.pool, false, 'open period over: the next launch is a trial (half-open)');
    }
  }

  /** True once per open period: report a scale-out the open breaker held back. */
  firstSkipOfPeriod(): boolean {
    if (this.skipReportedFor === this.breakerState.openedAt) return false;
    this.skipReportedFor = this.breakerState.openedAt;
    return true;
  }

  /** Launch outcomes (one error per failed launch) feed the breaker. */
  note(policy: Policy, launched: number, errors: readonly GridhostError[], detail: string, now: number): void {
    const cfg = this.cfg(policy);
    const wasOpen = breakerMode(this.breakerState, cfg, now) !== 'closed';
    for (const err of errors) this.telemetry.launchFailure(this.pool, err);
    if (errors.length > 0) {
      this.lastError = { at: now, code: errors[0]!.code, message: errors[0]!.message };
      for (let i = 0; i < errors.length; i++) this.breakerState = recordLaunchFailure(this.breakerState, cfg, now);
      if (breakerMode(this.breakerState, cfg, now) === 'open') {
        this.reportedOpen = true;
        this.telemetry.breaker(this.pool, true, `${this.breakerState.consecutiveFailures} consecutive launch failures; no launches for ${Math.round(policy.breaker.openMs / 1000)}s: ${detail}`);
      }
    } else if (launched > 0) {
      this.lastError = undefined;
      this.breakerState = recordLaunchSuccess(this.breakerState);
      if (wasOpen) this.telemetry.breaker(this.pool, false, 'a launch succeeded; breaker closed');
    }
  }

  /** An operator fixed the cause: close the breaker. Returns its mode before. */
  reset(policy: Policy, now: number): BreakerMode {
    const was = this.mode(policy, now);
    this.breakerState = closedBreaker;
    this.lastError = undefined;
    if (this.reportedOpen || was !== 'closed') {
      this.reportedOpen = false;
      this.telemetry.breaker(this.pool, false, 'reset by an operator');
    }
    return was;
  }
}
