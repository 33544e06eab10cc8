// What the API shows about a pool's loop (PoolLoop.status()), and the error an operator's action
// on a blocked pool is told.
import type { Decision, PoolControl, PoolSample } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import { GridhostError } from '../errors/errors.ts';
import type { LaunchError } from './launch-guard.ts';
import type { EvaluationHold } from './decision-journal.ts';
import type { RolloutStatus } from './rollout.ts';
import type { EvacuationStatus } from './evacuation.ts';

export type LoopState = 'stopped' | 'waiting' | 'sampling' | 'deciding';

/** Why the pool's balancer cannot take guests, since when (blocked-watch.ts). */
export interface BlockedFact {
  code: string;
  message: string;
  since: number;
}

export interface PoolStatus {
  pool: string;
  state: LoopState;
  acting: boolean;
  policy: Policy;
  lastDecision?: Decision;
  samples: readonly PoolSample[];
  breaker: { mode: 'closed' | 'open' | 'half-open'; consecutiveFailures: number; remainingMs: number };
  /** Set while the balancer cannot take the pool's guests: no guest is launched or retired. */
  blocked?: BlockedFact;
  /** The operator's control as last read from the store (absent: the policy decides). */
  control?: PoolControl;
  /** The last launch failure since the last successful launch: what blocks a growing pool. */
  lastLaunchError?: LaunchError;
  /** Outdated guests and the rollout replacing them (rollout.ts). */
  rollout?: RolloutStatus;
  /** Why the last evaluation held (absent when it acted). */
  lastHold?: EvaluationHold;
  /** Guests on closed hosts and their move (evacuation.ts). */
  evacuation?: EvacuationStatus;
}

/** What an operator's action on a blocked pool is told (the balancer's own code in details). */
export function poolBlockedError(pool: string, b: BlockedFact): GridhostError {
  return new GridhostError('GH_POOL_BLOCKED', `pool ${pool} is blocked since ${new Date(b.since).toISOString()}: ${b.message} (${b.code}); nothing is launched or retired until the balancer can take guests again`, { pool, cause: b.code });
}
