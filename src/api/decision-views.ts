// How the API shows a pool's evaluations (GET /api/pools/:pool/decisions): the journal's entries
// with ISO times and one sentence per hold, so the CLI, the dashboard and a curl user read the
// same explanation. Pure.
import type { Evaluation, EvaluationHold } from '../controller/decision-journal.ts';
import { desiredSize } from '../domain/types.ts';

function secs(ms: number): string {
  return `${Math.ceil(ms / 1000)}s`;
}

function list(xs: readonly string[]): string {
  return xs.join(', ');
}

/** One sentence: why the pool did not change. */
export function describeHold(h: EvaluationHold): string {
  switch (h.cause) {
    case 'in-flight':
      return `change in flight: ${Object.entries(h.guests).map(([s, n]) => `${n} ${s}`).join(', ')}; one change at a time`;
    case 'missing-metrics':
      return `missing metrics: guests did not report for rule ${list(h.rules)} (on_missing: hold)`;
    case 'warm-up':
      return `warm-up: every guest rule ${list(h.rules)} could use is still warming up`;
    case 'not-enough-samples':
      return `not enough samples yet for rule ${list(h.rules)} (its "for")`;
    case 'steady':
      return 'steady: no rule wants a change';
    case 'at-max':
      return `at max ${h.max}: the rules want ${h.wanted}`;
    case 'at-min':
      return `at min ${h.min}: the rules want ${h.wanted}`;
    case 'stabilization':
      return `stabilization: scale-in to ${h.wanted} held at ${h.heldAt}, the highest recommendation of the last ${secs(h.windowMs)} (made ${new Date(h.recommendedAt).toISOString()})`;
    case 'cooldown':
      return `cooldown: ${h.direction} to ${h.wanted} blocked for another ${secs(h.remainingMs)}`;
    case 'paused':
      return `paused by ${h.by}${h.reason ? ` (${h.reason})` : ''} since ${new Date(h.since).toISOString()}: no automatic action`;
    case 'manual':
      return `held by hand at ${h.desired} by ${h.by}${h.reason ? ` (${h.reason})` : ''}`;
    case 'breaker':
      return `launch breaker open after ${h.consecutiveFailures} failed launches: no launch for another ${secs(h.remainingMs)}`;
    case 'busy':
      return 'busy: gridhost\'s own change for the pool is still running';
    case 'blocked':
      return `blocked since ${new Date(h.since).toISOString()}: the balancer cannot take guests (${h.code}: ${h.message})`;
    case 'recommend':
      return 'mode: recommend: the change is published (recommended), not carried out';
    case 'cleanup':
      return `finishing the cleanup of ${list(h.guests)} first`;
    case 'flap-budget':
      return `flap budget spent: ${h.spent} of ${h.limit} guests started or stopped in the last ${secs(h.windowMs)}; the next change is free at ${new Date(h.nextAt).toISOString()} (the rules want ${h.wanted})`;
    case 'hosts-saturated':
      return `blocked: hosts saturated: ${h.hosts.map((x) => `${x.host} ${Math.round(x.cpuRatio * 100)}%`).join(', ')} CPU (saturated from ${Math.round(h.threshold * 100)}%); a new guest would get no CPU (the rules want ${h.wanted})`;
    case 'capacity-coming':
      return `capacity coming: ${h.guests} guest${h.guests === 1 ? '' : 's'} still booting or warming up; the rules want ${h.wanted}`;
  }
}

export interface DecisionView {
  at: string;
  mode: Evaluation['mode'];
  /** What the policy's rules decided. */
  decided: { action: string; from: number; to: number; reason: string };
  /** What gridhost started, if anything. */
  acted?: Evaluation['acted'];
  /** Why nothing changed, as data and as a sentence. */
  hold?: EvaluationHold;
  why: string;
  rules: Evaluation['rules'];
  guests: Evaluation['guests'];
  min: number;
  max: number;
  schedules: string[];
}

export function evaluationView(e: Evaluation): DecisionView {
  const d = e.decision;
  const why = e.acted ? `${e.acted.reason}` : e.hold ? describeHold(e.hold) : d.reason;
  return {
    at: new Date(e.at).toISOString(),
    mode: e.mode,
    decided: { action: d.action, from: d.from, to: desiredSize(d), reason: d.reason },
    ...(e.acted ? { acted: e.acted } : {}),
    ...(e.hold ? { hold: e.hold } : {}),
    why,
    rules: e.rules,
    guests: e.guests,
    min: d.inputs.min,
    max: d.inputs.max,
    schedules: d.inputs.schedules,
  };
}
