// What a pool's control loop remembers between ticks, as one pure reducer: the pool loop
// (src/controller/pool-loop.ts) and the simulator (src/simulator/simulate.ts) both fold their
// events through remember(), so the simulator predicts the loop that really runs.
//
// The state is plain data (numbers, strings, arrays, plain objects; JSON round-trips it
// unchanged) and everything decide() depends on besides the guests is in it, so a stored copy
// lets a restarted gridhost decide exactly as the old one would have. remember() never mutates
// its input: state in, state out.
//
// The rules (each pinned by pool-memory.test.ts):
//  - a sample is reduced when it arrives to what the rules read (aggregate.ts: per metric the
//    sum, max and count over the guests eligible then), so later ticks never re-read it;
//  - ticks are kept by time: a tick stays while now - at < the window, where the window is
//    sampling.window, widened to the longest rule's `for` x sampling.interval so that every
//    rule can always see as many ticks as it asks for;
//  - recommendations stay while now - at < scale_in.stabilization (decide() looks no further),
//    as a sliding-window maximum: one lower than a newer one is dropped (decide() only asks for
//    the highest, the oldest of equal ones);
//  - a scale action is in flight from `started` to `finished`;
//  - with a flap budget, a scale action's guests (|to - from|) are spent when it starts
//    (flap-budget.ts), whatever its outcome; marks out of the window are dropped then;
//  - its cooldown starts when it has finished (a scale-out's guests are healthy and in the
//    balancer, a scale-in's guests drained and stopped), whatever the outcome, except a skipped
//    action, which changed nothing. A baseline whose project starts it when the action starts
//    (policy.peer.cooldownFrom) gets that instead.
import type { Policy } from '../domain/policy.ts';
import { capacitySense, type Decision, type Guest, type PoolSample, type ScaleDecision } from '../domain/types.ts';
import { appendSample, emptyWindow, windowAfter, type TickWindow } from './aggregate.ts';
import type { Replacement } from './auto-heal.ts';
import { spendFlapBudget, type ChangeMark } from './flap-budget.ts';
import { decide } from './decide.ts';
import type { DecideResult, Recommendation } from './decide-types.ts';
import type { StrategyRegistry } from './strategies/index.ts';
import type { SignalBook } from './signal-book.ts';

/** A scale action started and not finished yet. */
export interface InFlightAction {
  /** Chosen by whoever starts it; unique among the pool's actions in flight. */
  id: string;
  /** The capacity's way (a resize up is a scale-out here, see capacitySense). */
  direction: 'scale-out' | 'scale-in';
  /** A resize (vertical step), not guests added or retired. */
  vertical?: true;
  from: number;
  to: number;
  /** When the decision was made (its tick). */
  decidedAt: number;
  startedAt: number;
}

export interface PoolMemory {
  /** Sampling ticks inside the window, reduced to what rules read, oldest first. */
  ticks: TickWindow;
  /** Recommendations inside the stabilization horizon, oldest first, none lower than a newer one. */
  recommendations: Recommendation[];
  /** When the cooldown of the last scale-out / scale-in started (its action finished). */
  lastScaleOutAt?: number;
  lastScaleInAt?: number;
  /** Scale actions in flight, oldest first. */
  inFlight: InFlightAction[];
  /** Sick guests being replaced (auto-heal), oldest first. */
  replacing: Replacement[];
  /** Scale actions started inside the flap budget's window, oldest first (policy flap_budget;
   *  absent without one). */
  changes?: ChangeMark[];
}

export type MemoryEvent =
  /** A sampling tick's values, and the pool's guests then (which of them count is decided now). */
  | { kind: 'sampled'; sample: PoolSample; guests: readonly Guest[] }
  /** decide() ran; its recommendation (if any) joins the stabilization window. */
  | { kind: 'decided'; recommendation?: Recommendation }
  | { kind: 'started'; id: string; decision: Decision }
  | { kind: 'finished'; id: string; outcome: 'done' | 'failed' | 'skipped' }
  /** Cooldown starts known from elsewhere (the store's pool record after a restart). */
  | { kind: 'restored'; lastScaleOutAt?: number; lastScaleInAt?: number }
  /** A sick guest's replacement began / ended (however it ended). No cooldown: replacing keeps
   *  the size, it is no scaling. */
  | { kind: 'replacing'; sick: string }
  | { kind: 'replaced'; sick: string };

export function emptyMemory(): PoolMemory {
  return { ticks: emptyWindow(), recommendations: [], inFlight: [], replacing: [] };
}

/** How far back samples are kept: the sampling window, but never less than the longest rule needs. */
export function sampleWindowMs(policy: Policy): number {
  // A plain loop: this runs per pool and tick.
  let longestFor = 1;
  for (const r of policy.rules) if (r.for > longestFor) longestFor = r.for;
  return Math.max(policy.sampling.windowMs, longestFor * policy.sampling.intervalMs);
}

/** The window without the ticks that are too old at `now` (now - at >= the window). */
function keepTicks(policy: Policy, ticks: TickWindow, now: number): TickWindow {
  return windowAfter(ticks, now - sampleWindowMs(policy));
}


/** A memory with the given parts: one literal of one shape (absent cooldowns left out), as the
 *  reducer runs per pool and tick. */
function memoryOf(ticks: TickWindow, recommendations: Recommendation[], inFlight: InFlightAction[], replacing: Replacement[], lastScaleOutAt: number | undefined, lastScaleInAt: number | undefined, changes: ChangeMark[] | undefined): PoolMemory {
  const m = memoryWithout(ticks, recommendations, inFlight, replacing, lastScaleOutAt, lastScaleInAt);
  // Only pools with a flap budget carry its marks.
  if (changes !== undefined) m.changes = changes;
  return m;
}

function memoryWithout(ticks: TickWindow, recommendations: Recommendation[], inFlight: InFlightAction[], replacing: Replacement[], lastScaleOutAt: number | undefined, lastScaleInAt: number | undefined): PoolMemory {
  if (lastScaleOutAt !== undefined && lastScaleInAt !== undefined) return { ticks, recommendations, inFlight, replacing, lastScaleOutAt, lastScaleInAt };
  if (lastScaleOutAt !== undefined) return { ticks, recommendations, inFlight, replacing, lastScaleOutAt };
  if (lastScaleInAt !== undefined) return { ticks, recommendations, inFlight, replacing, lastScaleInAt };
  return { ticks, recommendations, inFlight, replacing };
}

/**
 * The recommendations still inside the horizon at `now`, with `added` (if any): kept as a
 * sliding-window maximum (a monotonic queue). Scale-in stabilization only ever asks for the
 * highest recommendation in the horizon (the oldest of equal ones), and an older one lower than
 * a newer one can never be that again, so it is dropped: what is left never increases from
 * oldest to newest, the oldest is the one stabilization goes by, and a pool whose load falls
 * remembers a few entries instead of one per tick.
 */
function nextRecommendations(policy: Policy, recs: readonly Recommendation[], added: Recommendation | undefined, now: number): Recommendation[] {
  const horizon = policy.scaleIn.stabilizationMs;
  let i = 0;
  while (i < recs.length && now - recs[i]!.at >= horizon) i++;
  // With no stabilization (horizon 0) nothing needs remembering at all.
  if (added === undefined || !(now - added.at < horizon)) return i === 0 ? (recs as Recommendation[]) : recs.slice(i);
  let j = recs.length;
  // Only strictly lower ones go: of equal recommendations decide() reports the oldest.
  while (j > i && recs[j - 1]!.desired < added.desired) j--;
  // Sized once (slice-then-push would regrow it by half again every tick).
  const out = new Array<Recommendation>(j - i + 1);
  for (let k = i; k < j; k++) out[k - i] = recs[k]!;
  out[j - i] = added;
  return out;
}

const NO_RECOMMENDATION: readonly Recommendation[] = Object.freeze([]);

/**
 * The recommendations decide() needs from the memory's: scale-in stabilization takes the highest
 * one inside the horizon at `now` (made at or before `now`), the oldest of equal ones. In the
 * memory's queue (oldest first, none lower than a newer one, see nextRecommendations) that is
 * the first one inside the horizon, so the view carries only it: decide() reads one entry
 * instead of one per tick of the horizon.
 */
function stabilizationCandidate(policy: Policy, recs: readonly Recommendation[], now: number): readonly Recommendation[] {
  const horizon = policy.scaleIn.stabilizationMs;
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i]!;
    if (r.at <= now && now - r.at < horizon) return i === 0 && recs.length === 1 ? recs : [r];
  }
  return NO_RECOMMENDATION;
}

/** The memory after `event` happened at `now`. Pure: what `memory` holds is left as it was. */
export function remember(policy: Policy, memory: PoolMemory, event: MemoryEvent, now: number): PoolMemory {
  const m = memory;
  switch (event.kind) {
    case 'sampled':
      return memoryOf(appendSample(policy, keepTicks(policy, m.ticks, now), event.guests, event.sample), m.recommendations, m.inFlight, m.replacing, m.lastScaleOutAt, m.lastScaleInAt, m.changes);
    case 'decided':
      return memoryOf(m.ticks, nextRecommendations(policy, m.recommendations, event.recommendation, now), m.inFlight, m.replacing, m.lastScaleOutAt, m.lastScaleInAt, m.changes);
    case 'started': {
      const d = event.decision;
      if (d.action === 'hold') return m;
      // A resize is in flight like a scale of its sense (cooldowns, while_booting: add), and
      // starts or stops no guest (to = from: nothing spent of the flap budget).
      const sense = capacitySense(d);
      const action: InFlightAction = { id: event.id, direction: sense, ...(d.action === 'resize' ? { vertical: true } : {}), from: d.from, to: d.to, decidedAt: d.at, startedAt: now };
      const inFlight = [...m.inFlight.filter((a) => a.id !== event.id), action];
      const fromStart = policy.peer?.cooldownFrom === 'started';
      const changes = spendFlapBudget(policy, m.changes, Math.abs(d.to - d.from), now);
      return memoryOf(m.ticks, m.recommendations, inFlight, m.replacing, fromStart && sense === 'scale-out' ? now : m.lastScaleOutAt, fromStart && sense === 'scale-in' ? now : m.lastScaleInAt, changes);
    }
    case 'finished': {
      const action = m.inFlight.find((a) => a.id === event.id);
      if (action === undefined) return m;
      const inFlight = m.inFlight.filter((a) => a.id !== event.id);
      const starts = event.outcome !== 'skipped' && policy.peer?.cooldownFrom !== 'started';
      return memoryOf(m.ticks, m.recommendations, inFlight, m.replacing, starts && action.direction === 'scale-out' ? now : m.lastScaleOutAt, starts && action.direction === 'scale-in' ? now : m.lastScaleInAt, m.changes);
    }
    case 'replacing':
      return memoryOf(m.ticks, m.recommendations, m.inFlight, [...m.replacing.filter((r) => r.sick !== event.sick), { sick: event.sick, startedAt: now }], m.lastScaleOutAt, m.lastScaleInAt, m.changes);
    case 'replaced':
      return memoryOf(m.ticks, m.recommendations, m.inFlight, m.replacing.filter((r) => r.sick !== event.sick), m.lastScaleOutAt, m.lastScaleInAt, m.changes);
    case 'restored': {
      const out = event.lastScaleOutAt === undefined ? m.lastScaleOutAt : Math.max(event.lastScaleOutAt, m.lastScaleOutAt ?? -Infinity);
      const inn = event.lastScaleInAt === undefined ? m.lastScaleInAt : Math.max(event.lastScaleInAt, m.lastScaleInAt ?? -Infinity);
      return memoryOf(m.ticks, m.recommendations, m.inFlight, m.replacing, out, inn, m.changes);
    }
  }
}

/**
 * May `decision` be carried out now, beside the actions already in flight? Alone, always; beside
 * others only a scale-out next to scale-outs whose guests still boot, when the policy adds to
 * them (scale_out.while_booting `add`), or anything for a baseline whose peer ignores what is in
 * flight (policy.peer.ignoreInFlight). The pool loop and the simulator both ask this.
 */
export function mayStartAction(policy: Policy, memory: PoolMemory, decision: Decision): decision is ScaleDecision {
  if (decision.action === 'hold') return false;
  if (memory.inFlight.length === 0 || policy.peer?.ignoreInFlight === true) return true;
  return decision.action === 'scale-out' && policy.scaleOut.whileBooting === 'add' && memory.inFlight.every((a) => a.direction === 'scale-out' && a.vertical !== true);
}

/** One sampling tick, as the pool loop and the simulator both run it: remember the sample, decide
 *  from the memory and the pool's guests, remember the recommendation. */
export function tick(
  policy: Policy,
  memory: PoolMemory,
  guests: readonly Guest[],
  sample: PoolSample,
  now: number,
  strategies?: StrategyRegistry,
  /** The signals the pool was sent (its record's; signal rules fire on them). Kept in the store,
   *  not in this memory: any process may add to them (decision/signal-book.ts). */
  signals?: SignalBook,
): { memory: PoolMemory; result: DecideResult } {
  const sampled = remember(policy, memory, { kind: 'sampled', sample, guests }, now);
  const view = { guests, ticks: sampled.ticks, recommendations: stabilizationCandidate(policy, sampled.recommendations, now), lastScaleOutAt: sampled.lastScaleOutAt, lastScaleInAt: sampled.lastScaleInAt, ...(sampled.changes !== undefined ? { changes: sampled.changes } : {}), ...(sample.hosts !== undefined ? { hosts: sample.hosts } : {}), ...(signals !== undefined ? { signals } : {}) };
  const result = decide(policy, view, now, strategies);
  const decided = remember(policy, sampled, result.recommendation === undefined ? { kind: 'decided' } : { kind: 'decided', recommendation: result.recommendation }, now);
  return { memory: decided, result };
}
