// What a pool loop does with one tick's decision, given what an operator asked for and what is
// going on: act, hold (and why), or finish a failed cleanup first. Pure, so the rules below are
// tested without a loop:
//  - a pool whose balancer cannot take guests (blocked) launches and retires none, not even
//    a cleanup retry or an operator's size;
//  - a guest left `stopping` is finished first (when no action runs);
//  - paused: no automatic action at all (rules, schedules and bounds do not move the pool);
//  - manual: the pool is moved to the operator's size and held there; cooldowns do not apply
//    (the operator asked now), the one-change-at-a-time rule and the breaker still do;
//  - an action starts only when the loop allows it beside those running (`mayStart`: with
//    scale_out.while_booting add, a scale-out may join scale-outs still booting);
//  - a scale-out waits while the launch circuit breaker is open;
//  - recommend (the policy's mode: recommend): the policy's own changes are published, never
//    carried out; an operator's manual size still is (the operator asked for it).
import type { Decision, Guest, PoolControl, ScaleDecision } from '../domain/types.ts';
import { COUNTED_STATES } from '../domain/types.ts';
import type { EvaluationHold } from './decision-journal.ts';

export interface TickFacts {
  decision: Decision;
  /** decide()'s own hold cause (when its decision is a hold). */
  hold?: EvaluationHold;
  control?: PoolControl;
  guests: readonly Guest[];
  /** No action of gridhost's runs for the pool. */
  idle: boolean;
  /** The policy says mode: recommend. */
  recommend?: boolean;
  /** May this action start beside the ones running (false when the loop is stopping)? */
  mayStart: (d: ScaleDecision) => boolean;
  /** Remaining open time of the launch breaker (0: closed or half-open) and its failure count. */
  breaker: { openForMs: number; consecutiveFailures: number };
  /** Why the balancer cannot take the pool's guests (Balancer.blocked), since when. */
  blocked?: { code: string; message: string; since: number };
}

export type TickPlan =
  /** `by`: the operator whose manual size this action moves the pool to. */
  | { kind: 'act'; decision: ScaleDecision; by?: string }
  /** `wanted`: the change that was held back (set when the breaker held a scale-out, or a
   *  blocked pool held the decision's change). */
  | { kind: 'hold'; hold?: EvaluationHold; wanted?: ScaleDecision }
  | { kind: 'retry-stopping'; hold: EvaluationHold };

/** The decision that moves a pool held by hand to its size (or undefined when it has it). */
export function manualDecision(decision: Decision, control: Extract<PoolControl, { mode: 'manual' }>): ScaleDecision | undefined {
  const { pool, at, from, inputs } = decision;
  const to = control.desired;
  if (to === from) return undefined;
  const action = to > from ? 'scale-out' : 'scale-in';
  const why = control.reason ? `: ${control.reason}` : '';
  return { pool, at, from, inputs, action, to, reason: `${action} ${from} -> ${to}: set by hand to ${to} by ${control.by}${why}` };
}

export function planTick(f: TickFacts): TickPlan {
  if (f.blocked) {
    const { code, message, since } = f.blocked;
    return { kind: 'hold', hold: { cause: 'blocked', code, message, since }, ...(f.decision.action !== 'hold' ? { wanted: f.decision } : {}) };
  }
  const stopping = f.guests.filter((g) => g.state === 'stopping').map((g) => g.id);
  if (f.idle && stopping.length > 0) return { kind: 'retry-stopping', hold: { cause: 'cleanup', guests: stopping } };

  const c = f.control;
  if (c?.mode === 'paused') return { kind: 'hold', hold: { cause: 'paused', by: c.by, reason: c.reason, since: c.at } };

  let decision: ScaleDecision;
  if (c?.mode === 'manual') {
    // decide() still ran (explain shows what the policy would do); the operator's size rules.
    if (f.hold?.cause === 'in-flight') return { kind: 'hold', hold: f.hold };
    const counted = f.guests.filter((g) => COUNTED_STATES.includes(g.state)).length;
    const manual = manualDecision({ ...f.decision, from: counted }, c);
    if (!manual) return { kind: 'hold', hold: { cause: 'manual', desired: c.desired, by: c.by, reason: c.reason, since: c.at } };
    decision = manual;
  } else if (f.decision.action === 'hold') {
    return { kind: 'hold', ...(f.hold ? { hold: f.hold } : {}) };
  } else if (f.recommend) {
    return { kind: 'hold', hold: { cause: 'recommend' }, wanted: f.decision };
  } else {
    decision = f.decision;
  }

  if (!f.mayStart(decision)) return { kind: 'hold', hold: { cause: 'busy' } };
  if (decision.action === 'scale-out' && f.breaker.openForMs > 0) {
    return { kind: 'hold', hold: { cause: 'breaker', remainingMs: f.breaker.openForMs, consecutiveFailures: f.breaker.consecutiveFailures }, wanted: decision };
  }
  return { kind: 'act', decision, ...(c?.mode === 'manual' ? { by: c.by } : {}) };
}
