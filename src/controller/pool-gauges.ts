// What a pool loop's tick reports as gauges (gridhost_guests, desired, recommended, bounds, rule
// readings, mode, hold cause, flap budget, the hosts' CPU use under policy contention). Pure: from the tick's decision and the pool's memory.
import type { PoolMode } from '../domain/types.ts';
import { desiredSize, GUEST_STATES, type Decision, type Guest, type HostSample } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { HoldCause } from '../decision/decide-types.ts';
import { flapBudgetAt, type ChangeMark } from '../decision/flap-budget.ts';
import { ruleReadings } from '../decision/rule-readings.ts';
import { boundsAt } from '../decision/schedule.ts';
import type { PoolGaugeReport } from './telemetry.ts';

export function poolGaugeReport(policy: Policy, guests: readonly Guest[], decision: Decision, desired: number, mode: PoolMode, hold: HoldCause | undefined, changes: readonly ChangeMark[] | undefined, now: number, hosts?: readonly HostSample[]): PoolGaugeReport {
  const byState: Partial<Record<string, number>> = {};
  for (const s of GUEST_STATES) byState[s] = 0;
  for (const g of guests) byState[g.state] = (byState[g.state] ?? 0) + 1;
  const b = boundsAt(policy, now);
  const budget = flapBudgetAt(policy, changes, now);
  // gridhost_recommended_guests: what the decision core would do now, whatever the pool does.
  return {
    pool: policy.pool, byState, warmTarget: policy.warmPool?.size ?? 0, desired, recommended: desiredSize(decision), min: b.min, max: b.max, rules: ruleReadings(policy, decision), mode,
    ...(hold ? { hold: hold.cause } : {}),
    ...(budget ? { flapBudget: { spent: budget.spent, limit: budget.limit } } : {}),
    ...(hosts ? { hosts } : {}),
  };
}
