// What the read API adds for operators (GET /api/pools, /api/pools/:pool): who controls the pool
// (auto, paused, manual), each rule against its target, schedules in force, the breaker, what
// blocks it, a policy that failed to reload; per guest its latest metrics and balancer health.
// Pure: from the loop's status, the pool's record and the policy problems.
import type { PolicyProblem } from '../controller/policy-problems.ts';
import type { PoolStatus } from '../controller/pool-status.ts';
import { ruleReadings, type RuleReading } from '../decision/rule-readings.ts';
import { boundsAt } from '../decision/schedule.ts';
import type { Guest, MetricValues, PoolControl, PoolMode } from '../domain/types.ts';
import type { ValidationIssue } from '../errors/errors.ts';
import type { PoolRecord } from '../store/store.ts';
import { blockedReasons, type Blocked } from './pool-conditions.ts';

/** A PoolControl with its time in ISO 8601 (distributes over paused | manual). */
export type ControlView = PoolControl extends infer C ? (C extends PoolControl ? Omit<C, 'at'> & { at: string } : never) : never;

export interface OperatorFacts {
  mode: PoolMode;
  control?: ControlView;
  healthy: number;
  rules: RuleReading[];
  schedules: string[];
  breaker?: PoolStatus['breaker'];
  /** Everything that keeps the pool from growing or shrinking now (`blocked` is the balancer's own). */
  blockers: Blocked[];
  /** The pool's policy file failed to reload: its issues (the last good version keeps running). */
  policyError?: { file: string; issues: readonly ValidationIssue[] };
}

export function controlView(c: PoolControl | undefined): ControlView | undefined {
  return c && ({ ...c, at: new Date(c.at).toISOString() } as ControlView);
}

export function operatorFacts(args: {
  status?: PoolStatus;
  record?: PoolRecord;
  guests: readonly Guest[];
  problemOf: (file: string) => PolicyProblem | undefined;
  now: number;
  balancerError?: string;
}): OperatorFacts {
  const { status: st, record: rec, now } = args;
  // The loop's copy is what it acted on last; the record is newer right after a write.
  const control = rec?.control ?? st?.control;
  const file = st?.policy.file ?? rec?.file;
  const problem = file === undefined ? undefined : args.problemOf(file);
  const cv = controlView(control);
  return {
    mode: control?.mode ?? 'auto',
    ...(cv ? { control: cv } : {}),
    healthy: args.guests.filter((g) => g.state === 'healthy').length,
    rules: st?.lastDecision ? ruleReadings(st.policy, st.lastDecision) : [],
    schedules: st ? boundsAt(st.policy, now).active : [],
    ...(st ? { breaker: st.breaker } : {}),
    blockers: st ? blockedReasons(st, now, args.balancerError) : [],
    ...(problem ? { policyError: { file: problem.file, issues: problem.issues } } : {}),
  };
}

/** The latest values each guest reported (from the loop's newest sample that has the guest). */
export function latestMetrics(st: PoolStatus | undefined, guestId: string): MetricValues | undefined {
  const samples = st?.samples ?? [];
  for (let i = samples.length - 1; i >= 0; i--) {
    const v = samples[i]!.guests[guestId];
    if (v) return v;
  }
  return undefined;
}

/** Policy files that fail validation and that no managed pool's last good version came from. */
export function invalidPolicies(problems: readonly PolicyProblem[], managedFiles: ReadonlySet<string>) {
  return problems.filter((p) => !managedFiles.has(p.file)).map((p) => ({ file: p.file, issues: p.issues, at: new Date(p.at).toISOString() }));
}
