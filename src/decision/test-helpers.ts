// Builders for decision-core tests (tests only). Defaults mirror policies/web.yaml without rules
// or schedules, so each test states the rules it depends on.
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type Policy, type Schedule, type TargetTrackingRule, type ThresholdRule } from '../domain/policy.ts';
import type { Guest, GuestState, MetricValues, PoolSample } from '../domain/types.ts';
import { windowOf } from './aggregate.ts';
import type { PoolView } from './decide-types.ts';

/** Monday 2026-01-12 12:00:00 UTC (13:00 in Berlin, winter time). */
export const NOW = Date.UTC(2026, 0, 12, 12, 0, 0);
export const INTERVAL = 5_000;

export function makePolicy(overrides: Partial<Policy> = {}): Policy {
  return {
    file: '/test/web.yaml',
    pool: 'web',
    mode: 'act',
    min: 2,
    max: 8,
    guest: {
      driver: 'local',
      template: '/test/templates/web.local.yaml',
      image: '/test/templates/images/web',
      clone: 'auto',
      healthPath: '/healthz',
      metricsPath: '/metrics',
      metrics: ['rps', 'inflight'],
      bootTimeoutMs: 30_000,
      stopTimeoutMs: 10_000,
      drainTimeoutMs: 30_000,
    },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:8080' },
    sampling: { intervalMs: INTERVAL, windowMs: 300_000 },
    warmupMs: 10_000,
    scaleOut: { cooldownMs: 30_000, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 60_000, stabilizationMs: 120_000, victims: 'newest' },
    onMissing: 'hold',
    unknownGuests: 'retire',
    rules: [],
    schedules: [],
    hooks: {},
    breaker: { failures: 3, openMs: 300_000 },
    autoHeal: { ...DEFAULT_AUTO_HEAL },
    ...overrides,
  };
}

export function busyRule(overrides: Partial<ThresholdRule> = {}): ThresholdRule {
  return { name: 'busy', strategy: 'threshold', metric: 'cpu', aggregate: 'mean', above: 70, for: 3, step: { kind: 'count', value: 1 }, ...overrides };
}

export function idleRule(overrides: Partial<ThresholdRule> = {}): ThresholdRule {
  return { name: 'idle', strategy: 'threshold', metric: 'cpu', aggregate: 'mean', below: 15, for: 3, step: { kind: 'count', value: -1 }, ...overrides };
}

export function rpsRule(overrides: Partial<TargetTrackingRule> = {}): TargetTrackingRule {
  return { name: 'rps', strategy: 'target-tracking', metric: 'rps', aggregate: 'mean', target: 40, tolerance: 0.1, for: 2, ...overrides };
}

export function campaign(overrides: Partial<Schedule> = {}): Schedule {
  return { name: 'campaign', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', durationMs: 9 * 3600_000, min: 4, ...overrides };
}

export function guest(id: string, state: GuestState, healthyAt: number | undefined = NOW - 3600_000): Guest {
  const g: Guest = { id, pool: 'web', state, driver: 'local', host: 'localhost', createdAt: NOW - 7200_000, updatedAt: NOW - 3600_000, meta: {} };
  // draining/stopping guests were healthy once, so they carry healthyAt like real ones
  if ((state === 'healthy' || state === 'draining' || state === 'stopping') && healthyAt !== undefined) g.healthyAt = healthyAt;
  return g;
}

/** n healthy, long warmed-up guests named web-1..web-n. */
export function healthy(n: number): Guest[] {
  return Array.from({ length: n }, (_, i) => guest(`web-${i + 1}`, 'healthy'));
}

/** Ticks ending at `end`, one per INTERVAL; each tick gives every listed guest the same metric
 *  values (so the mean equals the value). `null` leaves the metric out for that tick. */
export function ticks(ids: readonly string[], perTick: readonly (Record<string, number | null>)[], end = NOW): PoolSample[] {
  return perTick.map((values, i) => {
    const at = end - (perTick.length - 1 - i) * INTERVAL;
    const m: MetricValues = {};
    for (const [k, v] of Object.entries(values)) if (v !== null) m[k] = v;
    const guests: Record<string, MetricValues> = {};
    for (const id of ids) guests[id] = { ...m };
    return { at, guests };
  });
}

/** cpu-only ticks for the given guests. */
export function cpuTicks(ids: readonly string[], cpu: readonly (number | null)[], end = NOW): PoolSample[] {
  return ticks(ids, cpu.map((c) => ({ cpu: c })), end);
}

/** A view from raw samples, reduced the way the pool's memory reduces them (with `policy`'s warm-up). */
export function makeView(overrides: Partial<PoolView> & { samples?: readonly PoolSample[] } = {}, policy: Policy = makePolicy()): PoolView {
  const { samples, ...rest } = overrides;
  const guests = rest.guests ?? [];
  const ticks = rest.ticks ?? windowOf(policy, guests, samples ?? []);
  return { guests, recommendations: [], ...rest, ticks };
}
