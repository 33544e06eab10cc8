// Launch circuit breaker, pure: after `failures` consecutive failed launches a pool stops
// launching for `openMs`; then one trial launch is allowed (half-open). A success closes it.
// This is what keeps a broken template from starting guests without end.

export interface BreakerState {
  consecutiveFailures: number;
  /** Epoch ms the breaker opened; undefined while closed. */
  openedAt?: number;
}

export interface BreakerConfig {
  failures: number;
  openMs: number;
}

export type BreakerMode = 'closed' | 'open' | 'half-open';

export const closedBreaker: BreakerState = Object.freeze({ consecutiveFailures: 0 });

export function breakerMode(s: BreakerState, cfg: BreakerConfig, now: number): BreakerMode {
  if (s.openedAt === undefined) return 'closed';
  return now - s.openedAt < cfg.openMs ? 'open' : 'half-open';
}

/** Remaining open time in ms (0 when closed or half-open). */
export function breakerRemainingMs(s: BreakerState, cfg: BreakerConfig, now: number): number {
  return s.openedAt === undefined ? 0 : Math.max(0, s.openedAt + cfg.openMs - now);
}

export function recordLaunchSuccess(_s: BreakerState): BreakerState {
  return closedBreaker;
}

/** A failure while closed counts towards opening; a failure in half-open re-opens at once. */
export function recordLaunchFailure(s: BreakerState, cfg: BreakerConfig, now: number): BreakerState {
  const consecutiveFailures = s.consecutiveFailures + 1;
  const mode = breakerMode(s, cfg, now);
  if (mode === 'half-open' || consecutiveFailures >= cfg.failures) return { consecutiveFailures, openedAt: now };
  return { consecutiveFailures, openedAt: s.openedAt };
}
