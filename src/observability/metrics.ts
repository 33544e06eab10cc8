// Prometheus metrics (prom-client). Names are prefixed `gridhost_` and use base units
// (seconds, ratios) as Prometheus asks. Note: policies speak CPU in percent of one CPU
// ("cpu above 70"); the exported gauge is the ratio (0.7), so dashboards divide nothing but
// must multiply by 100 to compare with a policy.
//
// Per-guest series are dropped when the guest is gone (forgetGuest) so retired guests do not
// linger as stale series. Counters and histograms of a removed pool are kept: they are history,
// and rate() over them stays correct.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { GUEST_STATES, type GuestState, type MetricValues } from '../domain/types.ts';

/** 0.1 s .. 10 min: a guest clone+boot+health takes seconds locally, minutes on Xen. */
export const LIFECYCLE_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
/** 1 ms .. 10 min: from an in-memory balancer call to a full xl clone over SSH. */
export const DRIVER_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The metric key (as reported by metrics sources) that feeds gridhost_guest_cpu_ratio. */
export const CPU_METRIC_KEY = 'cpu';

export interface GridhostMetrics {
  readonly registry: Registry;
  readonly guests: Gauge<'pool' | 'state'>;
  readonly poolDesiredGuests: Gauge<'pool'>;
  readonly poolMinGuests: Gauge<'pool'>;
  readonly poolMaxGuests: Gauge<'pool'>;
  readonly scaleEvents: Counter<'pool' | 'direction' | 'outcome'>;
  readonly guestProvisionDuration: Histogram<'pool' | 'outcome'>;
  readonly guestRetireDuration: Histogram<'pool' | 'outcome'>;
  readonly guestCpuRatio: Gauge<'pool' | 'guest'>;
  readonly guestLoad: Gauge<'pool' | 'guest' | 'metric'>;
  readonly policyEvaluationErrors: Counter<'pool'>;
  readonly policyLoadErrors: Counter<'file'>;
  readonly launchFailures: Counter<'pool'>;
  readonly circuitBreakerOpen: Gauge<'pool'>;
  readonly driverOperationDuration: Histogram<'driver' | 'operation' | 'outcome'>;

  /** Set gridhost_guests for every state of the pool (states not given are 0). */
  setPoolGuests(pool: string, byState: Partial<Record<GuestState, number>>): void;
  /** CPU (percent of one CPU, key "cpu") goes to gridhost_guest_cpu_ratio as a ratio; every other key to gridhost_guest_load. */
  setGuestValues(pool: string, guest: string, values: MetricValues): void;
  /** Drop the guest's per-guest series (cpu ratio and every load metric set through setGuestValues). */
  forgetGuest(pool: string, guest: string): void;
  /** Drop the pool's gauges and all its guests' series. */
  forgetPool(pool: string): void;
}

export function createMetrics(registry: Registry = new Registry()): GridhostMetrics {
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'gridhost_' });

  const guests = new Gauge({ name: 'gridhost_guests', help: 'Guests per pool and lifecycle state.', labelNames: ['pool', 'state'] as const, registers });
  const poolDesiredGuests = new Gauge({ name: 'gridhost_pool_desired_guests', help: 'Pool size last decided.', labelNames: ['pool'] as const, registers });
  const poolMinGuests = new Gauge({ name: 'gridhost_pool_min_guests', help: 'Lower bound on pool size in force (after schedules).', labelNames: ['pool'] as const, registers });
  const poolMaxGuests = new Gauge({ name: 'gridhost_pool_max_guests', help: 'Upper bound on pool size in force (after schedules).', labelNames: ['pool'] as const, registers });
  const scaleEvents = new Counter({
    name: 'gridhost_scale_events_total',
    help: 'Scale events by direction and outcome (done, skipped, failed).',
    labelNames: ['pool', 'direction', 'outcome'] as const,
    registers,
  });
  const guestProvisionDuration = new Histogram({
    name: 'gridhost_guest_provision_duration_seconds',
    help: 'Time from clone start to healthy (or to failure).',
    labelNames: ['pool', 'outcome'] as const,
    buckets: LIFECYCLE_BUCKETS,
    registers,
  });
  const guestRetireDuration = new Histogram({
    name: 'gridhost_guest_retire_duration_seconds',
    help: 'Time from drain start to the guest being gone (or to failure).',
    labelNames: ['pool', 'outcome'] as const,
    buckets: LIFECYCLE_BUCKETS,
    registers,
  });
  const guestCpuRatio = new Gauge({
    name: 'gridhost_guest_cpu_ratio',
    help: 'Guest CPU use as a ratio of one CPU (policies state it in percent: 0.7 here is 70 there).',
    labelNames: ['pool', 'guest'] as const,
    registers,
  });
  const guestLoad = new Gauge({ name: 'gridhost_guest_load', help: 'Guest-reported load values by metric key.', labelNames: ['pool', 'guest', 'metric'] as const, registers });
  const policyEvaluationErrors = new Counter({ name: 'gridhost_policy_evaluation_errors_total', help: 'Decision ticks that failed for a pool.', labelNames: ['pool'] as const, registers });
  const policyLoadErrors = new Counter({ name: 'gridhost_policy_load_errors_total', help: 'Policy files rejected at load or reload.', labelNames: ['file'] as const, registers });
  const launchFailures = new Counter({ name: 'gridhost_launch_failures_total', help: 'Guest launches that failed.', labelNames: ['pool'] as const, registers });
  const circuitBreakerOpen = new Gauge({ name: 'gridhost_circuit_breaker_open', help: '1 while the pool\'s launch circuit breaker is open.', labelNames: ['pool'] as const, registers });
  const driverOperationDuration = new Histogram({
    name: 'gridhost_driver_operation_duration_seconds',
    help: 'Driver calls by driver, operation and outcome (ok or the error code).',
    labelNames: ['driver', 'operation', 'outcome'] as const,
    buckets: DRIVER_BUCKETS,
    registers,
  });

  // pool -> guest -> load metric keys set, so forgetGuest can remove exactly those series.
  const seen = new Map<string, Map<string, Set<string>>>();

  const forgetGuest = (pool: string, guest: string): void => {
    guestCpuRatio.remove({ pool, guest });
    const byGuest = seen.get(pool);
    for (const metric of byGuest?.get(guest) ?? []) guestLoad.remove({ pool, guest, metric });
    byGuest?.delete(guest);
  };

  return {
    registry,
    guests,
    poolDesiredGuests,
    poolMinGuests,
    poolMaxGuests,
    scaleEvents,
    guestProvisionDuration,
    guestRetireDuration,
    guestCpuRatio,
    guestLoad,
    policyEvaluationErrors,
    policyLoadErrors,
    launchFailures,
    circuitBreakerOpen,
    driverOperationDuration,

    setPoolGuests(pool, byState) {
      for (const state of GUEST_STATES) guests.set({ pool, state }, byState[state] ?? 0);
    },

    setGuestValues(pool, guest, values) {
      let byGuest = seen.get(pool);
      if (!byGuest) seen.set(pool, (byGuest = new Map()));
      let keys = byGuest.get(guest);
      if (!keys) byGuest.set(guest, (keys = new Set()));
      for (const [metric, v] of Object.entries(values)) {
        if (!Number.isFinite(v)) continue;
        if (metric === CPU_METRIC_KEY) {
          guestCpuRatio.set({ pool, guest }, v / 100);
        } else {
          guestLoad.set({ pool, guest, metric }, v);
          keys.add(metric);
        }
      }
    },

    forgetGuest,

    forgetPool(pool) {
      for (const state of GUEST_STATES) guests.remove({ pool, state });
      poolDesiredGuests.remove({ pool });
      poolMinGuests.remove({ pool });
      poolMaxGuests.remove({ pool });
      circuitBreakerOpen.remove({ pool });
      for (const guest of [...(seen.get(pool)?.keys() ?? [])]) forgetGuest(pool, guest);
      seen.delete(pool);
    },
  };
}
