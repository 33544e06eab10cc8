// The pure decision core: from a policy, a view of the pool and `now`, decide whether to scale.
// No clock, no I/O, no randomness: the same inputs always give the same decision.
//
// Order (each step may end the decision):
//  1. changes in flight: guests draining or stopping hold the pool; guests on their way up
//     (cloning, booting) hold it too with scale_out.while_booting `hold`, while with `add` they
//     count as capacity coming and only a scale-out may follow (see step 6);
//  2. bounds (after schedules) are enforced first, ignoring cooldowns;
//  3. every rule gives an opinion or none (missing data follows policy.onMissing);
//  4. the highest opinion wins (scale-out wins; scale-in only when every opinion wants fewer);
//  5. scale-in is stabilized: never below the highest recommendation in the stabilization window;
//  6. a scale-in waits for guests on their way up; clamp to [min, max];
//  7. cooldowns: scale-out waits for the last scale-out; scale-in for the last scale of either kind;
//  8. contention (policy contention): a scale-out holds when every host is saturated;
//  8b. vertical first (policy guest.vertical): a scale-out the rules want is a resize up while a
//     serving guest is below its maxvcpus/maxmem; a scale-in a resize down while one is above its
//     template's size (it starts or stops no guest: the flap budget is not spent on it);
//  9. the flap budget (policy flap_budget): a change takes at most the guests left in it, and
//     none when it is spent. Bounds (step 2) are never held by it or by 8, but count against it.
// Baselines may change steps 1, 6 and 7 the way their projects define them (policy.peer).
import { sampleKeyOf } from '../domain/metric-catalogue.ts';
import type { Policy, Rule } from '../domain/policy.ts';
import { GUEST_STATE_FACTS, IN_FLIGHT_STATES, type Decision, type DecisionInputs, type Direction, type Guest, type GuestState } from '../domain/types.ts';
import { awaitingReplacement } from './auto-heal.ts';
import { columnValue, isEligible, saturatedKey, type TickWindow } from './aggregate.ts';
import type { DecideResult, HoldCause, PoolView, RuleVerdict } from './decide-types.ts';
import { ceilSafe, fmtSeconds, fmtStabilization, plural } from './format.ts';
import { boundsAt } from './schedule.ts';
import type { Opinion } from './strategy.ts';
import { CORE_STRATEGIES, runRule, type StrategyRegistry } from './strategies/index.ts';
import { signalStrategy } from './strategies/signal.ts';
import { lastServedAt, pendingFor } from './signal-book.ts';
import { flapBudgetAt } from './flap-budget.ts';
import { hostContention } from './host-contention.ts';
import { describeStep, verticalStep } from './vertical-step.ts';

export interface CooldownRemaining {
  scaleOutMs: number;
  scaleInMs: number;
}

/** Time left before a scale-out / scale-in may happen (0 when none). */
export function cooldownRemaining(policy: Policy, view: Pick<PoolView, 'lastScaleOutAt' | 'lastScaleInAt'>, now: number): CooldownRemaining {
  const lastAny = Math.max(view.lastScaleInAt ?? -Infinity, view.lastScaleOutAt ?? -Infinity);
  const lastOut = policy.peer?.cooldownAfterAny === true ? (lastAny === -Infinity ? undefined : lastAny) : view.lastScaleOutAt;
  const out = lastOut === undefined ? 0 : policy.scaleOut.cooldownMs - (now - lastOut);
  const inn = lastAny === -Infinity ? 0 : policy.scaleIn.cooldownMs - (now - lastAny);
  return { scaleOutMs: Math.max(0, out), scaleInMs: Math.max(0, inn) };
}

/** Outcome of evaluating one rule. */
interface RuleOutcome {
  rule: Rule;
  opinion?: Opinion;
  /** Why there is no opinion, when that is worth telling. */
  note?: string;
  /** The values it looked at (its last `for` ticks, oldest first, ticks without a value left out). */
  seen: number[];
  idle?: RuleVerdict['idle'];
}

function verdictOf(o: RuleOutcome): RuleVerdict {
  if (o.opinion) return { rule: o.rule.name, wants: o.opinion.desired, reason: o.opinion.reason };
  const idle = o.idle ?? 'not-triggered';
  return o.note !== undefined ? { rule: o.rule.name, idle, note: o.note } : { rule: o.rule.name, idle };
}

const IDLE_CAUSES = ['missing-metrics', 'warm-up', 'not-enough-samples'] as const;

/** Rules without an opinion: the most telling cause first (missing data, then warm-up, then history). */
function idleCause(verdicts: readonly RuleVerdict[]): HoldCause {
  for (const idle of IDLE_CAUSES) {
    let rules: string[] | undefined;
    for (const v of verdicts) if (v.idle === idle) (rules ??= []).push(v.rule);
    if (rules !== undefined) return { cause: idle, rules };
  }
  return { cause: 'steady' };
}

/** Guests by what they mean for a decision (one pass over the pool's guests, by their facts). */
interface Census {
  counted: number;
  /** Counted guests whose load the metrics do not show yet (booting, warming up, or the
   *  replacement a sick guest waits for): capacity coming. */
  comingUp: number;
  /** In flight and not counted: on their way out (draining, stopping). */
  goingDown: number;
  /** Cloning or booting. */
  booting: number;
  /** Guests per in-flight state; undefined when none is in flight. */
  inFlight?: Partial<Record<GuestState, number>>;
}

function census(policy: Policy, guests: readonly Guest[], now: number): Census {
  const c: Census = { counted: 0, comingUp: 0, goingDown: 0, booting: 0 };
  // Sick guests waiting for their replacement: capacity coming, like a guest booting.
  const awaiting = awaitingReplacement(policy, guests);
  c.counted += awaiting;
  c.comingUp += awaiting;
  for (const g of guests) {
    const facts = GUEST_STATE_FACTS[g.state];
    if (facts.counted) {
      c.counted++;
      if (!isEligible(policy, g, now)) c.comingUp++;
    }
    if (!facts.inFlight) continue;
    const inFlight = (c.inFlight ??= {});
    inFlight[g.state] = (inFlight[g.state] ?? 0) + 1;
    if (!facts.counted) c.goingDown++;
    if (g.state === 'cloning' || g.state === 'booting') c.booting++;
  }
  return c;
}

function makeDecision(policy: Policy, now: number, from: number, action: Exclude<Direction, 'resize'>, to: number, reason: string, inputs: DecisionInputs): Decision {
  return action === 'hold'
    ? { pool: policy.pool, at: now, from, reason, inputs, action }
    : { pool: policy.pool, at: now, from, reason, inputs, action, to };
}

/**
 * Decides for one pool. `strategies` resolves each rule's `strategy` (default: the core ones,
 * threshold and target-tracking); an unknown name is GH_POLICY_INVALID.
 */
export function decide(policy: Policy, view: PoolView, now: number, strategies: StrategyRegistry = CORE_STRATEGIES): DecideResult {
  const signalRules = policy.signalRules;
  if (signalRules === undefined || signalRules.length === 0) return decideWith(policy, view, now, strategies, NO_SIGNALS);
  const counted = census(policy, view.guests, now).counted;
  const signals: SignalOutcome[] = signalRules.map((rule) => {
    const pending = pendingFor(view.signals, rule, now);
    const served = lastServedAt(view.signals, rule.name);
    return { rule, keys: pending.map((e) => e.key), ...signalStrategy({ config: rule, pending, ...(served !== undefined ? { lastServedAt: served } : {}), current: counted, now }) };
  });
  const result = decideWith(policy, view, now, strategies, signals);
  const demands = signals.flatMap((o) => (o.opinion === undefined ? [] : [{ rule: o.rule.name, wants: o.opinion.desired, keys: o.keys }]));
  return demands.length > 0 ? { ...result, signals: demands } : result;
}

/** What one signal rule made of its pending signals. */
interface SignalOutcome {
  rule: { name: string };
  opinion?: Opinion;
  note?: string;
  keys: string[];
}

const NO_SIGNALS: readonly SignalOutcome[] = Object.freeze([]);

function decideWith(policy: Policy, view: PoolView, now: number, strategies: StrategyRegistry, signals: readonly SignalOutcome[]): DecideResult {
  const c = census(policy, view.guests, now);
  const counted = c.counted;
  const comingUp = c.comingUp;
  const bounds = boundsAt(policy, now);
  const ignoreInFlight = policy.peer?.ignoreInFlight === true;
  const ruleCount = policy.rules.length;
  const outcomes = new Array<RuleOutcome>(ruleCount);
  const rules = new Array<RuleVerdict>(ruleCount);
  const series: Record<string, number[]> = {};
  for (let i = 0; i < ruleCount; i++) {
    const rule = policy.rules[i]!;
    const o = evaluateRule(policy, rule, view.ticks, counted, comingUp, strategies);
    outcomes[i] = o;
    rules[i] = verdictOf(o);
    series[rule.name] = o.seen;
  }
  for (const o of signals) rules.push(o.opinion ? { rule: o.rule.name, wants: o.opinion.desired, reason: o.opinion.reason } : o.note !== undefined ? { rule: o.rule.name, idle: 'not-triggered', note: o.note } : { rule: o.rule.name, idle: 'not-triggered' });
  const inputs: DecisionInputs = { series, min: bounds.min, max: bounds.max, schedules: bounds.active };

  // 1. changes in flight
  const goingDown = c.goingDown;
  const booting = c.booting;
  if (!ignoreInFlight && (goingDown > 0 || (booting > 0 && policy.scaleOut.whileBooting === 'hold'))) {
    const parts: string[] = [];
    for (const s of IN_FLIGHT_STATES) {
      const n = c.inFlight?.[s];
      if (n !== undefined) parts.push(`${plural(n, 'guest')} ${s}`);
    }
    return { decision: makeDecision(policy, now, counted, 'hold', counted, `change in flight: ${parts.join(', ')}`, inputs), hold: { cause: 'in-flight', guests: { ...c.inFlight } }, rules };
  }
  /** With guests on their way up or warming up a scale-in waits (only a scale-out may add to
   *  them): their effect on the load is not known yet (AWS blocks scale-in during warm-up too). */
  const scaleInWaits = !ignoreInFlight && comingUp > 0;

  // 2. bounds
  if (counted < bounds.min) {
    const by = bounds.minBy === undefined ? '' : ` (schedule ${bounds.minBy})`;
    return { decision: makeDecision(policy, now, counted, 'scale-out', bounds.min, `scale-out ${counted} -> ${bounds.min}: below min ${bounds.min}${by}`, inputs), rules };
  }
  if (counted > bounds.max && scaleInWaits) {
    return { decision: makeDecision(policy, now, counted, 'hold', counted, waitReason(comingUp, `${counted} -> ${bounds.max}: above max ${bounds.max}`), inputs), hold: { cause: 'capacity-coming', guests: comingUp, wanted: bounds.max }, rules };
  }
  if (counted > bounds.max) {
    const by = bounds.maxBy === undefined ? '' : ` (schedule ${bounds.maxBy})`;
    return { decision: makeDecision(policy, now, counted, 'scale-in', bounds.max, `scale-in ${counted} -> ${bounds.max}: above max ${bounds.max}${by}`, inputs), rules };
  }

  // 3. rules (evaluated above: their values go into every decision's inputs)
  let winner: { rule: { name: string }; opinion?: Opinion } | undefined;
  for (const o of signals.length === 0 ? outcomes : [...outcomes, ...signals]) {
    if (o.opinion !== undefined && (winner === undefined || o.opinion.desired > winner.opinion!.desired)) winner = o;
  }
  if (winner === undefined) {
    // No rule wants a change: that is a recommendation to stay, remembered for stabilization.
    let reason = '';
    for (const o of signals.length === 0 ? outcomes : [...outcomes, ...signals]) if (o.note !== undefined) reason = reason === '' ? o.note : `${reason}; ${o.note}`;
    return { decision: makeDecision(policy, now, counted, 'hold', counted, reason === '' ? 'no rule triggered' : reason, inputs), recommendation: { at: now, desired: counted }, hold: idleCause(rules), rules };
  }

  // 4. combine (done above: highest desired wins)
  const rec = winner.opinion!;
  const recommended = rec.desired;
  const recommendation = { at: now, desired: recommended };
  const withRec: DecisionInputs = { series, min: bounds.min, max: bounds.max, schedules: bounds.active, recommended, rule: winner.rule.name };

  // 5. scale-in stabilization (HPA): the highest recommendation in the window, never above current
  let desired = recommended;
  /** The recommendation stabilization kept (reported with when it was made). */
  let stabilizedBy: { desired: number; at: number } | undefined;
  if (recommended < counted) {
    for (const r of view.recommendations) {
      if (r.at <= now && now - r.at < policy.scaleIn.stabilizationMs && r.desired > (stabilizedBy?.desired ?? recommended)) stabilizedBy = r;
    }
    if (stabilizedBy !== undefined) desired = Math.min(counted, stabilizedBy.desired);
  }

  // 5b. a peer's scale-out rate limit (the HPA's behaviour), before the bounds as there
  let limitedTo: number | undefined;
  const limit = policy.peer?.scaleOutLimit;
  if (limit !== undefined && desired > counted) {
    const most = Math.max(ceilSafe((counted * (100 + limit.percent)) / 100), counted + limit.guests);
    if (desired > most) desired = limitedTo = most;
  }

  // 6. clamp
  const to = Math.min(bounds.max, Math.max(bounds.min, desired));
  const direction: Exclude<Direction, 'resize'> = to > counted ? 'scale-out' : to < counted ? 'scale-in' : 'hold';

  if (direction === 'scale-in' && scaleInWaits) {
    return { decision: makeDecision(policy, now, counted, 'hold', counted, waitReason(comingUp, `${counted} -> ${to}: ${rec.reason}`), withRec), recommendation, hold: { cause: 'capacity-coming', guests: comingUp, wanted: to }, rules };
  }

  if (direction === 'hold') {
    const coming = recommended <= counted && recommended > counted - comingUp && comingUp > 0;
    const stabilized = recommended < counted && stabilizedBy !== undefined && desired >= counted;
    if (!coming && !stabilized && recommended !== counted) {
      // At a bound the pool cannot grow or shrink, but its guests still may (vertical first), once
      // the cooldown of the scale it stands for has passed and (up) a host has CPU to give.
      const sense = recommended > counted ? 'scale-out' : 'scale-in';
      const left = cooldownRemaining(policy, view, now);
      const wait = sense === 'scale-out' ? left.scaleOutMs : left.scaleInMs;
      const saturated = sense === 'scale-out' && hostContention(policy, view.hosts)?.allSaturated === true;
      const step = wait > 0 || saturated ? undefined : verticalResize(policy, view, now, counted, sense, recommended, rec.reason, withRec);
      if (step !== undefined) return { decision: step, recommendation, rules };
    }
    let reason = rec.reason;
    let hold: HoldCause = { cause: 'steady' };
    if (coming) {
      reason = `capacity coming: ${plural(comingUp, 'guest')} still booting or warming up make ${counted} >= ${recommended} (${rec.reason})`;
      hold = { cause: 'capacity-coming', guests: comingUp, wanted: recommended };
    } else if (stabilized) {
      reason = `scale-in to ${recommended} held by stabilization: ${fmtStabilization(stabilizedBy!, now, policy.scaleIn.stabilizationMs)} (${rec.reason})`;
      hold = { cause: 'stabilization', wanted: recommended, heldAt: stabilizedBy!.desired, recommendedAt: stabilizedBy!.at, windowMs: policy.scaleIn.stabilizationMs };
    } else if (recommended > counted) {
      reason = `at max ${bounds.max} (wanted ${counted} -> ${recommended}: ${rec.reason})`;
      hold = { cause: 'at-max', max: bounds.max, wanted: recommended };
    } else if (recommended < counted) {
      reason = `at min ${bounds.min} (wanted ${counted} -> ${recommended}: ${rec.reason})`;
      hold = { cause: 'at-min', min: bounds.min, wanted: recommended };
    }
    return { decision: makeDecision(policy, now, counted, 'hold', counted, reason, withRec), recommendation, hold, rules };
  }

  // 7. cooldowns
  const left = cooldownRemaining(policy, view, now);
  const wait = direction === 'scale-out' ? left.scaleOutMs : left.scaleInMs;
  if (wait > 0) {
    const reason = `cooldown: ${direction} blocked for another ${fmtSeconds(wait)} (wanted ${counted} -> ${to}: ${rec.reason})`;
    return { decision: makeDecision(policy, now, counted, 'hold', counted, reason, withRec), recommendation, hold: { cause: 'cooldown', direction, remainingMs: wait, wanted: to }, rules };
  }

  // 8. contention
  if (direction === 'scale-out') {
    const hc = hostContention(policy, view.hosts);
    if (hc?.allSaturated) {
      const seen = hc.hosts.map((h) => `${h.host} ${Math.round(h.cpuRatio * 100)}%`).join(', ');
      const reason = `blocked: hosts saturated (${seen} CPU, saturated from ${Math.round(hc.threshold * 100)}%): a new guest would get no CPU (wanted ${counted} -> ${to}: ${rec.reason})`;
      return { decision: makeDecision(policy, now, counted, 'hold', counted, reason, withRec), recommendation, hold: { cause: 'hosts-saturated', hosts: hc.hosts, threshold: hc.threshold, wanted: to }, rules };
    }
  }

  // 8b. vertical first: one step for every serving guest that has room, instead of guests added or retired
  const step = verticalResize(policy, view, now, counted, direction, to, rec.reason, withRec);
  if (step !== undefined) return { decision: step, recommendation, rules };

  // 9. flap budget
  const budget = flapBudgetAt(policy, view.changes, now);
  let budgeted = to;
  if (budget !== undefined && Math.abs(to - counted) > budget.remaining) {
    if (budget.remaining === 0) {
      const nextAt = budget.nextAt ?? now;
      const reason = `flap budget spent: ${budget.spent} of ${plural(budget.limit, 'change')} in ${fmtSeconds(budget.windowMs)}, next free in ${fmtSeconds(nextAt - now)} (wanted ${counted} -> ${to}: ${rec.reason})`;
      return { decision: makeDecision(policy, now, counted, 'hold', counted, reason, withRec), recommendation, hold: { cause: 'flap-budget', spent: budget.spent, limit: budget.limit, windowMs: budget.windowMs, nextAt, wanted: to }, rules };
    }
    budgeted = direction === 'scale-out' ? counted + budget.remaining : counted - budget.remaining;
  }
  if (budgeted !== to) {
    const reason = `${direction} ${counted} -> ${budgeted}: ${rec.reason} (flap budget: ${plural(budget!.remaining, 'change')} left of ${budget!.limit} in ${fmtSeconds(budget!.windowMs)}, wanted ${to})`;
    return { decision: makeDecision(policy, now, counted, direction, budgeted, reason, withRec), recommendation, rules };
  }

  let suffix = '';
  if (to !== desired) suffix = to === bounds.max ? ` (capped at max ${bounds.max})` : ` (raised to min ${bounds.min})`;
  else if (limitedTo !== undefined) suffix = ` (scale-out limit: ${limit!.percent}% or ${plural(limit!.guests, 'guest')} more, from ${recommended})`;
  else if (stabilizedBy !== undefined) suffix = `; stabilization kept ${to} instead of ${recommended}: ${fmtStabilization(stabilizedBy, now, policy.scaleIn.stabilizationMs)}`;
  return { decision: makeDecision(policy, now, counted, direction, to, `${direction} ${counted} -> ${to}: ${rec.reason}${suffix}`, withRec), recommendation, rules };
}

/** A resize instead of the scale `direction` wants (policy guest.vertical), when a guest has room. */
function verticalResize(policy: Policy, view: PoolView, now: number, counted: number, direction: 'scale-out' | 'scale-in', wanted: number, why: string, inputs: DecisionInputs): Decision | undefined {
  const vertical = policy.guest.vertical;
  if (vertical === undefined) return undefined;
  const step = verticalStep(vertical, view.guests, direction === 'scale-out' ? 'up' : 'down');
  if (step === undefined) return undefined;
  const room = direction === 'scale-out' ? 'vertical first, guests below maxvcpus/maxmem' : 'vertical first, guests above their template\'s size';
  const reason = `resize ${step.direction}: ${describeStep(step)} (${room}; wanted ${counted} -> ${wanted}: ${why})`;
  return { pool: policy.pool, at: now, from: counted, to: counted, reason, inputs, action: 'resize', direction: step.direction, guests: step.guests };
}

/** The values of `series`, its `nulls` nulls left out. */
function seenOf(series: readonly (number | null)[], nulls: number): number[] {
  const seen = new Array<number>(series.length - nulls);
  let j = 0;
  for (const v of series) if (v !== null) seen[j++] = v;
  return seen;
}

function waitReason(comingUp: number, wanted: string): string {
  return `scale-in waits for ${plural(comingUp, 'guest')} still booting or warming up (wanted ${wanted})`;
}

function evaluateRule(policy: Policy, rule: Rule, w: TickWindow, current: number, coming: number, strategies: StrategyRegistry): RuleOutcome {
  const n = rule.for;
  const len = w.end - w.start;
  const start = w.end - n;
  const from = start < w.start ? w.start : start;
  // Sized once: this runs per rule, pool and tick, and growing arrays push by push is most of
  // what a decision would allocate otherwise.
  const series: (number | null)[] = new Array<number | null>(w.end - from);
  let nulls = 0;
  let missing = 0;
  let unwarmed = 0;
  let saturatedTicks = 0;
  let fewestSaturated = Infinity;
  const key = sampleKeyOf(rule);
  // The rule's columns, looked up once.
  const column = w.metrics[key];
  const satCounts = w.metrics[saturatedKey(key)]?.count;
  for (let t = from; t < w.end; t++) {
    const v = columnValue(column, t, rule.aggregate);
    const sat = satCounts === undefined ? 0 : satCounts[t] ?? 0;
    if (sat > 0) {
      saturatedTicks++;
      if (sat < fewestSaturated) fewestSaturated = sat;
    }
    series[t - from] = v;
    if (v !== null) continue;
    nulls++;
    // Nobody reported, but the balancer saw guests serving: saturated, not missing.
    if (sat > 0) continue;
    else if (w.eligible[t]! > 0) missing++;
    else unwarmed++;
  }
  // The values it saw: the series itself when every tick had one (the usual case).
  const seen = nulls === 0 ? (series as number[]) : seenOf(series, nulls);
  if (start < w.start) return { rule, seen, idle: 'not-enough-samples', note: `${rule.name}: ${len} of ${plural(n, 'sample')} so far` };
  // Guests too busy to report while serving, in every one of the last `for` ticks: each of them
  // counts as needing a second guest beside it (its real demand is unknown, only that it is past
  // what it can serve), whatever the others report.
  const saturation: Opinion | undefined = saturatedTicks === n
    ? { desired: current + fewestSaturated, reason: `${plural(fewestSaturated, 'guest')} saturated: ${rule.metric} unreadable while the balancer sends them traffic, for ${plural(n, 'sample')} (+1 guest each)` }
    : undefined;
  if (missing > 0) {
    if (policy.onMissing === 'scale-out') {
      return { rule, seen, opinion: { desired: current + 1, reason: `missing samples for ${rule.metric}: on-missing scale-out` } };
    }
    return { rule, seen, idle: 'missing-metrics', note: `missing samples for ${rule.metric} (${rule.name}): on-missing hold` };
  }
  // Ticks where every guest was still warming up are not "missing": nothing could have reported.
  if (unwarmed > 0) return { rule, seen, idle: 'warm-up', note: `${rule.name}: no warmed-up guests yet` };
  const last = w.end - 1;
  const opinion = seen.length === 0 ? undefined : runRule(strategies, rule, { series, current, coming, ready: column === undefined ? 0 : column.count[last] ?? 0, eligible: len > 0 ? w.eligible[last]! : 0 });
  const best = saturation !== undefined && (opinion === undefined || saturation.desired > opinion.desired) ? saturation : opinion;
  return best === undefined ? { rule, seen } : { rule, seen, opinion: best };
}
