// Inputs and outputs of the pure decision core (src/decision/decide.ts).
import type { Decision, Guest, GuestState, HostSample } from '../domain/types.ts';
import type { TickWindow } from './aggregate.ts';
import type { SignalBook } from './signal-book.ts';
import type { ChangeMark } from './flap-budget.ts';

export interface Recommendation {
  at: number;
  desired: number;
}

/** Everything decide() may look at. Built by the controller from the store and the samplers. */
export interface PoolView {
  /** The pool's guests that are not gone/failed. */
  guests: readonly Guest[];
  /** Recent ticks reduced to what rules read, oldest first (the pool's memory keeps the window). */
  ticks: TickWindow;
  lastScaleOutAt?: number;
  lastScaleInAt?: number;
  /** Earlier unclamped recommendations, for the scale-in stabilization window. */
  recommendations: readonly Recommendation[];
  /** The signals the pool was sent (its record's), for rules with strategy: signal. */
  signals?: SignalBook;
  /** The scale actions the flap budget has seen inside its window (the pool's memory's). */
  changes?: readonly ChangeMark[];
  /** The hosts as this tick's sample saw them (policy contention). */
  hosts?: readonly HostSample[];
}

/** What a signal rule asks for, and the pending signals it asks for it with. */
export interface SignalDemand {
  rule: string;
  wants: number;
  keys: string[];
}

/** What one rule made of its samples. */
export interface RuleVerdict {
  rule: string;
  /** The size the rule asks for (before bounds, stabilization and cooldowns); absent: no opinion. */
  wants?: number;
  /** The rule's own reason for `wants`, with the numbers it used. */
  reason?: string;
  /** Why the rule has no opinion: too few ticks yet, guests that did not report, guests all still
   *  warming up, or its condition is not met (threshold not crossed). */
  idle?: 'not-enough-samples' | 'missing-metrics' | 'warm-up' | 'not-triggered';
  /** The sentence behind `idle`, as the decision's reason tells it. */
  note?: string;
}

/**
 * Why decide() held the pool (absent when it scales), as data: the answer to "why did it not
 * scale?" without reading the reason text. Checked in decide()'s order; the first that applies wins.
 */
export type HoldCause =
  /** A guest is cloning, booting, draining or stopping: one change at a time. */
  | { cause: 'in-flight'; guests: Partial<Record<GuestState, number>> }
  /** Some rule's guests did not report its metric (policy on_missing: hold). */
  | { cause: 'missing-metrics'; rules: string[] }
  /** Every guest a rule could use is still inside `warmup`. */
  | { cause: 'warm-up'; rules: string[] }
  /** A rule has fewer ticks than its `for` asks for. */
  | { cause: 'not-enough-samples'; rules: string[] }
  /** Every rule is content with the current size. */
  | { cause: 'steady' }
  /** The rules want more (or fewer) guests than the bounds in force allow. */
  | { cause: 'at-max'; max: number; wanted: number }
  | { cause: 'at-min'; min: number; wanted: number }
  /** The rules want fewer, or no more, guests because guests still booting or warming up
   *  (scale_out.while_booting: add) will carry load the metrics do not show yet. */
  | { cause: 'capacity-coming'; guests: number; wanted: number }
  /** A scale-in held by the highest recommendation of the stabilization window (heldAt, made at recommendedAt). */
  | { cause: 'stabilization'; wanted: number; heldAt: number; recommendedAt: number; windowMs: number }
  /** A change wanted but its cooldown has not passed. */
  | { cause: 'cooldown'; direction: 'scale-out' | 'scale-in'; remainingMs: number; wanted: number }
  /** The flap budget is spent: `spent` guests started plus stopped in the last `windowMs`, of
   *  `limit`; one change is free again at `nextAt`. */
  | { cause: 'flap-budget'; spent: number; limit: number; windowMs: number; nextAt: number; wanted: number }
  /** A scale-out the rules want, but every host's CPUs are used up by its domains (policy
   *  contention): another guest there would get no CPU. `hosts`: each host's CPU use (0-1). */
  | { cause: 'hosts-saturated'; hosts: { host: string; cpuRatio: number }[]; threshold: number; wanted: number };

export type HoldCauseKind = HoldCause['cause'];

export interface DecideResult {
  decision: Decision;
  /** Recommendation to remember for the stabilization window (absent when there was none). */
  recommendation?: Recommendation;
  /** Present exactly when the decision is a hold. */
  hold?: HoldCause;
  /** Each rule's verdict, in policy order; empty when decide() did not get to the rules
   *  (a change in flight, or the size outside the bounds). */
  rules: RuleVerdict[];
  /** The signal rules that fire now (absent when none does): an action that gives one what it
   *  wants serves its signals (servedSignals()). */
  signals?: SignalDemand[];
}
