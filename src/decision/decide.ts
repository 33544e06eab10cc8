// The pure decision core: from a policy, a view of the pool and `now`, decide whether to scale.
// No clock, no I/O, no randomness: the same inputs always give the same decision.
//
// Order (each step may end the decision):
//  1. a change in flight (cloning/booting/draining/stopping guests) holds the pool;
//  2. bounds (after schedules) are enforced first, ignoring cooldowns;
//  3. every rule gives an opinion or none (missing data follows policy.onMissing);
//  4. the highest opinion wins (scale-out wins; scale-in only when every opinion wants fewer);
//  5. scale-in is stabilized: never below the highest recommendation in the stabilization window;
//  6. clamp to [min, max];
//  7. cooldowns: scale-out waits for the last scale-out; scale-in for the last scale of either kind.
import type { Policy, Rule } from '../domain/policy.ts';
import { COUNTED_STATES, IN_FLIGHT_STATES, type Decision, type DecisionInputs, type Direction, type GuestState } from '../domain/types.ts';
import { aggregateSeries, type Aggregated } from './aggregate.ts';
import type { DecideResult, PoolView } from './decide-types.ts';
import { fmtSeconds, plural } from './format.ts';
import { boundsAt } from './schedule.ts';
import type { Opinion } from './strategy.ts';
import { runRule } from './strategies/index.ts';

export interface CooldownRemaining {
  scaleOutMs: number;
  scaleInMs: number;
}

/** Time left before a scale-out / scale-in may happen (0 when none). */
export function cooldownRemaining(policy: Policy, view: PoolView, now: number): CooldownRemaining {
  const out = view.lastScaleOutAt === undefined ? 0 : policy.scaleOut.cooldownMs - (now - view.lastScaleOutAt);
  const lastAny = Math.max(view.lastScaleInAt ?? -Infinity, view.lastScaleOutAt ?? -Infinity);
  const inn = lastAny === -Infinity ? 0 : policy.scaleIn.cooldownMs - (now - lastAny);
  return { scaleOutMs: Math.max(0, out), scaleInMs: Math.max(0, inn) };
}

/** Outcome of evaluating one rule. */
interface RuleOutcome {
  rule: Rule;
  opinion?: Opinion;
  /** Why there is no opinion, when that is worth telling. */
  note?: string;
}

export function decide(policy: Policy, view: PoolView, now: number): DecideResult {
  const counted = view.guests.reduce((n, g) => (COUNTED_STATES.includes(g.state) ? n + 1 : n), 0);
  const bounds = boundsAt(policy, now);
  const longestFor = policy.rules.reduce((n, r) => Math.max(n, r.for), 1);
  const agg = aggregateSeries(policy, view, { ticks: longestFor });

  const baseInputs: DecisionInputs = { series: inputSeries(policy, agg), min: bounds.min, max: bounds.max, schedules: bounds.active };
  const make = (direction: Direction, to: number, reason: string, extra: Partial<DecisionInputs> = {}): Decision => ({
    pool: policy.pool,
    at: now,
    direction,
    from: counted,
    to: direction === 'hold' ? counted : to,
    reason,
    inputs: { ...baseInputs, ...extra },
  });

  // 1. change in flight
  const inFlight = new Map<GuestState, number>();
  for (const g of view.guests) {
    if (g.state !== 'healthy' && IN_FLIGHT_STATES.includes(g.state)) inFlight.set(g.state, (inFlight.get(g.state) ?? 0) + 1);
  }
  if (inFlight.size > 0) {
    const parts = IN_FLIGHT_STATES.filter((s) => inFlight.has(s)).map((s) => `${plural(inFlight.get(s)!, 'guest')} ${s}`);
    return { decision: make('hold', counted, `change in flight: ${parts.join(', ')}`) };
  }

  // 2. bounds
  if (counted < bounds.min) {
    const by = bounds.minBy === undefined ? '' : ` (schedule ${bounds.minBy})`;
    return { decision: make('scale-out', bounds.min, `scale-out ${counted} -> ${bounds.min}: below min ${bounds.min}${by}`) };
  }
  if (counted > bounds.max) {
    const by = bounds.maxBy === undefined ? '' : ` (schedule ${bounds.maxBy})`;
    return { decision: make('scale-in', bounds.max, `scale-in ${counted} -> ${bounds.max}: above max ${bounds.max}${by}`) };
  }

  // 3. rules
  const outcomes = policy.rules.map((rule) => evaluateRule(policy, rule, agg, counted));
  let winner: RuleOutcome | undefined;
  for (const o of outcomes) {
    if (o.opinion !== undefined && (winner === undefined || o.opinion.desired > winner.opinion!.desired)) winner = o;
  }
  if (winner === undefined) {
    // No rule wants a change: that is a recommendation to stay, remembered for stabilization.
    const notes = outcomes.flatMap((o) => (o.note === undefined ? [] : [o.note]));
    const reason = notes.length > 0 ? notes.join('; ') : 'no rule triggered';
    return { decision: make('hold', counted, reason), recommendation: { at: now, desired: counted } };
  }

  // 4. combine (done above: highest desired wins)
  const rec = winner.opinion!;
  const recommended = rec.desired;
  const recommendation = { at: now, desired: recommended };
  const extra: Partial<DecisionInputs> = { recommended, rule: winner.rule.name };

  // 5. scale-in stabilization (HPA): the highest recommendation in the window, never above current
  let desired = recommended;
  let stabilizedBy: number | undefined;
  if (recommended < counted) {
    let highest = recommended;
    for (const r of view.recommendations) {
      if (r.at <= now && now - r.at < policy.scaleIn.stabilizationMs && r.desired > highest) highest = r.desired;
    }
    if (highest > recommended) {
      stabilizedBy = highest;
      desired = Math.min(counted, highest);
    }
  }

  // 6. clamp
  const to = Math.min(bounds.max, Math.max(bounds.min, desired));
  const direction: Direction = to > counted ? 'scale-out' : to < counted ? 'scale-in' : 'hold';

  if (direction === 'hold') {
    let reason = rec.reason;
    if (recommended < counted && stabilizedBy !== undefined && desired >= counted) {
      reason = `scale-in to ${recommended} held by stabilization: highest recommendation ${stabilizedBy} in the last ${fmtSeconds(policy.scaleIn.stabilizationMs)} (${rec.reason})`;
    } else if (recommended > counted) {
      reason = `at max ${bounds.max} (wanted ${counted} -> ${recommended}: ${rec.reason})`;
    } else if (recommended < counted) {
      reason = `at min ${bounds.min} (wanted ${counted} -> ${recommended}: ${rec.reason})`;
    }
    return { decision: make('hold', counted, reason, extra), recommendation };
  }

  // 7. cooldowns
  const left = cooldownRemaining(policy, view, now);
  const wait = direction === 'scale-out' ? left.scaleOutMs : left.scaleInMs;
  if (wait > 0) {
    const reason = `cooldown: ${direction} blocked for another ${fmtSeconds(wait)} (wanted ${counted} -> ${to}: ${rec.reason})`;
    return { decision: make('hold', counted, reason, extra), recommendation };
  }

  let suffix = '';
  if (to !== desired) suffix = to === bounds.max ? ` (capped at max ${bounds.max})` : ` (raised to min ${bounds.min})`;
  else if (stabilizedBy !== undefined) suffix = ` (stabilized from ${recommended})`;
  return { decision: make(direction, to, `${direction} ${counted} -> ${to}: ${rec.reason}${suffix}`, extra), recommendation };
}

function evaluateRule(policy: Policy, rule: Rule, agg: Aggregated, current: number): RuleOutcome {
  const rs = agg.rules[rule.name]!;
  const n = rule.for;
  const start = rs.series.length - n;
  if (start < 0) return { rule, note: `${rule.name}: ${rs.series.length} of ${plural(n, 'sample')} so far` };
  let missing = 0;
  let unwarmed = 0;
  for (let t = start; t < rs.series.length; t++) {
    if (rs.series[t] !== null) continue;
    if (agg.eligible[t]! > 0) missing++;
    else unwarmed++;
  }
  if (missing > 0) {
    if (policy.onMissing === 'scale-out') {
      return { rule, opinion: { desired: current + 1, reason: `missing samples for ${rule.metric}: on-missing scale-out` } };
    }
    return { rule, note: `missing samples for ${rule.metric} (${rule.name}): on-missing hold` };
  }
  // Ticks where every guest was still warming up are not "missing": nothing could have reported.
  if (unwarmed > 0) return { rule, note: `${rule.name}: no warmed-up guests yet` };
  const opinion = runRule(rule, { series: rs.series, current, ready: rs.ready });
  return opinion === undefined ? { rule } : { rule, opinion };
}

/** The values each rule looked at (its last `for` ticks, oldest first; ticks without a value left out). */
function inputSeries(policy: Policy, agg: Aggregated): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const rule of policy.rules) {
    const s = agg.rules[rule.name]!.series;
    out[rule.name] = s.slice(Math.max(0, s.length - rule.for)).filter((v): v is number => v !== null);
  }
  return out;
}
