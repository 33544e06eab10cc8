// The flap budget (policy flap_budget): at most `changes` guests started plus stopped by scale
// actions per sliding window. Pure. What was spent is kept as marks in the pool's memory
// (pool-memory.ts, written to the pool's record every tick), so a restarted or newly elected
// gridhost and the simulator count the same changes.
//
// What counts: every scale action as it starts, |to - from| guests (a launch that fails still
// started a guest; a scale-in that stops 2 stopped 2). What does not: sick guests' replacements
// (auto-heal keeps the size; a budget must never leave a sick guest unreplaced) and rollout
// batches (their pace is max_surge and pause).
import type { FlapBudgetSettings, Policy } from '../domain/policy.ts';

/** A scale action's guests, when it started. */
export interface ChangeMark {
  at: number;
  guests: number;
}

export interface FlapBudgetState {
  /** Guests started plus stopped inside the window ending at `now`. */
  spent: number;
  limit: number;
  windowMs: number;
  /** limit - spent, never below 0. */
  remaining: number;
  /** When at least one change is free again (absent while some are left now). */
  nextAt?: number;
}

/** Marks that still count at `now` (now - at < window). */
function inWindow(b: FlapBudgetSettings, marks: readonly ChangeMark[], now: number): readonly ChangeMark[] {
  let i = 0;
  while (i < marks.length && now - marks[i]!.at >= b.windowMs) i++;
  return i === 0 ? marks : marks.slice(i);
}

/** The budget at `now`, from the marks (oldest first); undefined without flap_budget. */
export function flapBudgetAt(policy: Pick<Policy, 'flapBudget'>, marks: readonly ChangeMark[] | undefined, now: number): FlapBudgetState | undefined {
  const b = policy.flapBudget;
  if (b === undefined) return undefined;
  const live = inWindow(b, marks ?? [], now);
  let spent = 0;
  for (const m of live) spent += m.guests;
  const remaining = Math.max(0, b.changes - spent);
  const state: FlapBudgetState = { spent, limit: b.changes, windowMs: b.windowMs, remaining };
  if (remaining > 0) return state;
  // The oldest marks leave the window first: the one whose leaving frees a change.
  let left = spent;
  for (const m of live) {
    left -= m.guests;
    if (left < b.changes) return { ...state, nextAt: m.at + b.windowMs };
  }
  return state;
}

/** The marks after a scale action of `guests` started at `now` (the ones out of the window dropped). */
export function spendFlapBudget(policy: Pick<Policy, 'flapBudget'>, marks: readonly ChangeMark[] | undefined, guests: number, now: number): ChangeMark[] | undefined {
  const b = policy.flapBudget;
  if (b === undefined) return undefined;
  const live = inWindow(b, marks ?? [], now);
  return guests > 0 ? [...live, { at: now, guests }] : [...live];
}
