// Schedules: time windows that change a pool's bounds (a campaign raising min at 09:00 Berlin).
//
// A schedule is active when its most recent cron fire F (read in the schedule's time zone)
// satisfies F <= now < F + durationMs: the window start is inclusive, the end exclusive.
// Effective bounds:
//   min = max(policy.min, largest min of the active schedules that set one)
//   max = largest max of the active schedules that set one, else policy.max. A schedule max
//         replaces the policy max (it may lower or raise it; the loader keeps it <= the hard max).
//   if min > max then max = min (a raised min always wins).
import { CronExpressionParser } from 'cron-parser';
import type { Policy, Schedule } from '../domain/policy.ts';
import { GridhostError } from '../errors/errors.ts';

export interface Bounds {
  min: number;
  max: number;
  /** Names of the schedules active at `now`, in policy order. */
  active: string[];
  /** The schedule whose min is in force, when a schedule raised min above the policy's. */
  minBy?: string;
  /** The schedule whose max is in force, when one is. */
  maxBy?: string;
}

// Parsing cron in a time zone is costly (~0.3 ms), and a control loop asks about the same
// schedule every few seconds. Memoize, per (cron, zone), the fire interval [fire, next) that
// contained the last `now` asked about: any `now` inside it has the same latest fire. The result
// depends only on the arguments, so the core stays pure.
const fireCache = new Map<string, { fire: number; next: number }>();
const FIRE_CACHE_LIMIT = 10_000;

// In front of it, the same interval per schedule object (policies are frozen values): every pool
// asks at every tick, and the string key costs a concatenation and a hash per call.
const bySchedule = new WeakMap<Schedule, { fire: number; next: number }>();

/** Epoch ms of the latest fire of `schedule` at or before `now`. */
export function lastFire(schedule: Schedule, now: number): number {
  const mine = bySchedule.get(schedule);
  if (mine !== undefined && mine.fire <= now && now < mine.next) return mine.fire;
  const key = `${schedule.timezone}\u0000${schedule.cron}`;
  const hit = fireCache.get(key);
  if (hit !== undefined && hit.fire <= now && now < hit.next) {
    bySchedule.set(schedule, hit);
    return hit.fire;
  }
  let fire: number;
  let next: number;
  try {
    // prev() is strictly before currentDate; +1 ms makes a fire exactly at `now` count.
    const expr = CronExpressionParser.parse(schedule.cron, { currentDate: now + 1, tz: schedule.timezone });
    fire = expr.prev().getTime();
    next = expr.next().getTime(); // the first fire after `now`
  } catch (err) {
    throw new GridhostError(
      'GH_POLICY_INVALID',
      `schedule "${schedule.name}": cannot read cron "${schedule.cron}" in time zone "${schedule.timezone}": fix the expression or the zone`,
      { schedule: schedule.name },
      { cause: err },
    );
  }
  if (fireCache.size >= FIRE_CACHE_LIMIT) fireCache.clear();
  const interval = { fire, next };
  fireCache.set(key, interval);
  bySchedule.set(schedule, interval);
  return fire;
}

export function isActive(schedule: Schedule, now: number): boolean {
  const fire = lastFire(schedule, now);
  return fire <= now && now < fire + schedule.durationMs;
}

export function boundsAt(policy: Policy, now: number): Bounds {
  const active: string[] = [];
  let min = policy.min;
  let minBy: string | undefined;
  let schedMax: number | undefined;
  let maxBy: string | undefined;
  for (const s of policy.schedules) {
    if (!isActive(s, now)) continue;
    active.push(s.name);
    if (s.min !== undefined && s.min > min) {
      min = s.min;
      minBy = s.name;
    }
    if (s.max !== undefined && (schedMax === undefined || s.max > schedMax)) {
      schedMax = s.max;
      maxBy = s.name;
    }
  }
  let max = schedMax ?? policy.max;
  if (min > max) max = min;
  const bounds: Bounds = { min, max, active };
  if (minBy !== undefined) bounds.minBy = minBy;
  if (maxBy !== undefined) bounds.maxBy = maxBy;
  return bounds;
}
