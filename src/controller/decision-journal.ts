// Every evaluation a pool loop made in the last hour, with why it held: the answer to "why did
// it (not) scale?" (GET /api/pools/:pool/decisions, `gridhost explain`, the dashboard's charts).
// In memory and bounded: the durable record of what gridhost *did* is the scale events in the
// store; this keeps what it *considered*, tick by tick, which is too much to store for ever.
import type { Policy } from '../domain/policy.ts';
import type { Decision, Guest, GuestState, PoolControl, PoolMode } from '../domain/types.ts';
import { GUEST_STATE_FACTS } from '../domain/types.ts';
import type { DecideResult, HoldCause, RuleVerdict } from '../decision/decide-types.ts';
import { ruleReadings, type RuleReading } from '../decision/rule-readings.ts';
import type { TickPlan } from './tick-plan.ts';

/** Why the loop did not act on a decision that wanted a change, or what held an operator's wish. */
export type LoopHold =
  /** An operator paused the pool. */
  | { cause: 'paused'; by: string; reason: string; since: number }
  /** An operator holds the pool at a size by hand, and it has that size. */
  | { cause: 'manual'; desired: number; by: string; reason: string; since: number }
  /** Launches are stopped after consecutive failures. */
  | { cause: 'breaker'; remainingMs: number; consecutiveFailures: number }
  /** gridhost's own action for the pool is still running (one change at a time). */
  | { cause: 'busy' }
  /** Guests left `stopping` by a failed cleanup are being finished first. */
  | { cause: 'cleanup'; guests: string[] }
  /** The pool's balancer cannot take guests (Balancer.blocked): nothing is launched or retired. */
  | { cause: 'blocked'; code: string; message: string; since: number }
  /** The policy says mode: recommend: the change is published, not carried out. */
  | { cause: 'recommend' };

export type EvaluationHold = HoldCause | LoopHold;

/** One rule in one evaluation: what it saw (and against what), and what it made of it. */
export type RuleEvaluation = RuleReading & Omit<RuleVerdict, 'rule'>;

export interface Evaluation {
  pool: string;
  at: number;
  mode: PoolMode;
  /** What the policy's rules decided (decide()), whatever the loop then did. */
  decision: Decision;
  /** What the loop started, when it started something (in manual mode: towards the manual size). */
  acted?: { direction: 'scale-out' | 'scale-in' | 'resize'; from: number; to: number; reason: string };
  /** Why nothing changed; absent when `acted` is set. */
  hold?: EvaluationHold;
  rules: RuleEvaluation[];
  guests: { counted: number; byState: Partial<Record<GuestState, number>> };
}

/** Pure: the journal entry for one tick (decide()'s result and what the loop planned with it). */
export function evaluationOf(policy: Policy, result: DecideResult, plan: TickPlan, control: PoolControl | undefined, guests: readonly Guest[], now: number): Evaluation {
  const byState: Partial<Record<GuestState, number>> = {};
  for (const g of guests) byState[g.state] = (byState[g.state] ?? 0) + 1;
  const verdicts = new Map(result.rules.map((v) => [v.rule, v]));
  const rules = ruleReadings(policy, result.decision).map((r) => {
    const { rule: _rule, ...v } = verdicts.get(r.rule) ?? { rule: r.rule };
    return { ...r, ...v };
  });
  const e: Evaluation = {
    pool: policy.pool,
    at: now,
    mode: control?.mode ?? 'auto',
    decision: result.decision,
    rules,
    guests: { counted: guests.filter((g) => GUEST_STATE_FACTS[g.state].counted).length, byState },
  };
  if (plan.kind === 'act') {
    const d = plan.decision;
    e.acted = { direction: d.action, from: d.from, to: d.to, reason: d.reason };
  } else if (plan.hold) {
    e.hold = plan.hold;
  }
  return e;
}

export interface JournalQuery {
  /** Only evaluations at or after / at or before these times (epoch ms). */
  since?: number;
  until?: number;
  /** Newest first; default 100, at most the journal's size. */
  limit?: number;
}

export interface JournalOptions {
  /** How far back evaluations are kept (default 1 hour). */
  keepMs?: number;
  /** At most this many (default 2000: an hour at 2 s, ample at the usual 5 s). */
  maxEntries?: number;
}

export class DecisionJournal {
  private readonly entries: Evaluation[] = [];
  private readonly keepMs: number;
  private readonly maxEntries: number;

  constructor(opts: JournalOptions = {}) {
    this.keepMs = opts.keepMs ?? 3600_000;
    this.maxEntries = opts.maxEntries ?? 2000;
  }

  record(e: Evaluation): void {
    this.entries.push(e);
    const cut = e.at - this.keepMs;
    let drop = 0;
    while (drop < this.entries.length && (this.entries[drop]!.at < cut || this.entries.length - drop > this.maxEntries)) drop++;
    if (drop > 0) this.entries.splice(0, drop);
  }

  /** Newest first. */
  list(q: JournalQuery = {}): Evaluation[] {
    const limit = Math.max(1, Math.min(q.limit ?? 100, this.maxEntries));
    const out: Evaluation[] = [];
    for (let i = this.entries.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.entries[i]!;
      if (q.until !== undefined && e.at > q.until) continue;
      if (q.since !== undefined && e.at < q.since) break;
      out.push(e);
    }
    return out;
  }

  /** The newest evaluation (what the pool's conditions are read from). */
  latest(): Evaluation | undefined {
    return this.entries[this.entries.length - 1];
  }

  /** The oldest evaluation still kept (what `--at` can reach back to). */
  oldest(): number | undefined {
    return this.entries[0]?.at;
  }
}
