// Prometheus metrics (prom-client). Names are prefixed `gridhost_` and use base units
// (seconds, ratios) as Prometheus asks. Note: policies speak CPU in percent of one CPU
// ("cpu above 70"); the exported gauge is the ratio (0.7), so dashboards divide nothing but
// must multiply by 100 to compare with a policy.
//
// Per-guest series are dropped when the guest is gone (forgetGuest) so retired guests do not
// linger as stale series. Counters and histograms of a removed pool are kept: they are history,
// and rate() over them stays correct.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { REPAIR_KINDS } from '../controller/repair-kinds.ts';
import { GUEST_STATES, type GuestState, type MetricValues, type PoolMode } from '../domain/types.ts';
import { registerServingMetrics, type ServingMetrics } from './serving-metrics.ts';

const POOL_MODES: readonly PoolMode[] = ['auto', 'paused', 'manual'];
import type { RuleReading } from '../decision/rule-readings.ts';

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
  readonly recommendedGuests: Gauge<'pool'>;
  readonly poolMinGuests: Gauge<'pool'>;
  readonly poolMaxGuests: Gauge<'pool'>;
  readonly scaleEvents: Counter<'pool' | 'direction' | 'outcome'>;
  /** Scale actions by kind: vertical (a resize, policy guest.vertical) or horizontal (guests added or retired). */
  readonly scaleActions: Counter<'pool' | 'kind' | 'outcome'>;
  readonly guestProvisionDuration: Histogram<'pool' | 'outcome'>;
  readonly guestRetireDuration: Histogram<'pool' | 'outcome'>;
  readonly hookDuration: Histogram<'pool' | 'hook' | 'outcome'>;
  readonly guestCpuRatio: Gauge<'pool' | 'guest'>;
  readonly guestLoad: Gauge<'pool' | 'guest' | 'metric'>;
  readonly policyEvaluationErrors: Counter<'pool'>;
  readonly policyLoadErrors: Counter<'file'>;
  readonly launchFailures: Counter<'pool'>;
  readonly circuitBreakerOpen: Gauge<'pool'>;
  readonly poolBlocked: Gauge<'pool'>;
  readonly driverOperationDuration: Histogram<'driver' | 'operation' | 'outcome'>;
  readonly ruleValue: Gauge<'pool' | 'rule' | 'metric'>;
  readonly ruleTarget: Gauge<'pool' | 'rule' | 'metric' | 'kind'>;
  readonly reconcileRepairs: Counter<'kind'>;
  readonly poolLeader: Gauge<'pool'>;
  readonly storeUp: Gauge;
  readonly policyFileInvalid: Gauge<'file'>;
  readonly guestsSick: Counter<'pool' | 'cause'>;
  readonly guestReplacements: Counter<'pool' | 'cause' | 'outcome'>;
  /** The balancer's serving series (gridhost_balancer_*, gridhost_pool_serving), read at scrape time once attached. */
  readonly serving: ServingMetrics;
  readonly poolMode: Gauge<'pool' | 'mode'>;
  readonly poolHold: Gauge<'pool' | 'cause'>;
  readonly flapBudget: Gauge<'pool' | 'kind'>;
  readonly hostCpuRatio: Gauge<'host'>;
  readonly warmGuests: Gauge<'pool'>;
  readonly warmPoolTarget: Gauge<'pool'>;
  readonly scaleOutGuests: Counter<'pool' | 'path'>;
  readonly scaleOutToServing: Histogram<'pool' | 'path'>;

  /** Set gridhost_guests for every state of the pool (states not given are 0). */
  setPoolGuests(pool: string, byState: Partial<Record<GuestState, number>>): void;
  /** CPU (percent of one CPU, key "cpu") goes to gridhost_guest_cpu_ratio as a ratio; every other key to gridhost_guest_load. */
  setGuestValues(pool: string, guest: string, values: MetricValues): void;
  /** Drop the guest's per-guest series (cpu ratio and every load metric set through setGuestValues). */
  forgetGuest(pool: string, guest: string): void;
  /** 1 for the pool's mode, 0 for the others. */
  setPoolMode(pool: string, mode: PoolMode): void;
  /** Set each rule's last aggregated value and its target or bound; rules not given lose their series. */
  setRuleReadings(pool: string, readings: readonly RuleReading[]): void;
  /** 1 for why the pool's last decision held (its hold cause), none while it acts. */
  setPoolHold(pool: string, cause: string | undefined): void;
  /** Each host's CPU use over all its domains, 0-1 (policy contention); hosts not measured keep no series. */
  setHostCpu(hosts: readonly { host: string; cpuRatio?: number }[]): void;
  /** policy flap_budget: guests started plus stopped in its window, and its limit (absent: dropped). */
  setFlapBudget(pool: string, budget: { spent: number; limit: number } | undefined): void;
  /** Drop the pool's gauges and all its guests' series. */
  forgetPool(pool: string): void;
}


/**
 * prom-client's default metrics include three gauges with a counter's `_total` suffix, which
 * `promtool check metrics` rejects (and rate() over them would mislead). Each is the sum over
 * `type` of a properly named gauge beside it (gridhost_nodejs_active_handles{type}, ...), so
 * dropping them loses nothing: sum() gives the total.
 */
function dropMisnamedDefaultGauges(registry: Registry): void {
  for (const what of ['active_handles', 'active_requests', 'active_resources']) {
    registry.removeSingleMetric(`gridhost_nodejs_${what}_total`);
  }
}

export function createMetrics(registry: Registry = new Registry()): GridhostMetrics {
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'gridhost_' });
  dropMisnamedDefaultGauges(registry);

  const guests = new Gauge({ name: 'gridhost_guests', help: 'Guests per pool and lifecycle state.', labelNames: ['pool', 'state'] as const, registers });
  const poolDesiredGuests = new Gauge({ name: 'gridhost_pool_desired_guests', help: 'Pool size last decided.', labelNames: ['pool'] as const, registers });
  const recommendedGuests = new Gauge({ name: 'gridhost_recommended_guests', help: 'Pool size the decision core recommends now (mode: recommend publishes it without acting; mode: act acts towards it).', labelNames: ['pool'] as const, registers });
  const poolMinGuests = new Gauge({ name: 'gridhost_pool_min_guests', help: 'Lower bound on pool size in force (after schedules).', labelNames: ['pool'] as const, registers });
  const poolMaxGuests = new Gauge({ name: 'gridhost_pool_max_guests', help: 'Upper bound on pool size in force (after schedules).', labelNames: ['pool'] as const, registers });
  const scaleEvents = new Counter({
    name: 'gridhost_scale_events_total',
    help: 'Scale events by direction and outcome (done, skipped, failed).',
    labelNames: ['pool', 'direction', 'outcome'] as const,
    registers,
  });
  const scaleActions = new Counter({
    name: 'gridhost_scale_actions_total',
    help: 'Scale actions by kind: vertical (the guests resized, policy guest.vertical) or horizontal (guests added or retired), and outcome.',
    labelNames: ['pool', 'kind', 'outcome'] as const,
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
  const hookDuration = new Histogram({
    name: 'gridhost_hook_duration_seconds',
    help: 'Lifecycle hook runs (before_register, before_retire) by outcome: ok, continued (failed, on_failure continue), abandoned.',
    labelNames: ['pool', 'hook', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
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
  const poolBlocked = new Gauge({ name: 'gridhost_pool_blocked', help: '1 while the pool\'s balancer cannot register guests (nothing is launched or retired).', labelNames: ['pool'] as const, registers });
  const driverOperationDuration = new Histogram({
    name: 'gridhost_driver_operation_duration_seconds',
    help: 'Driver calls by driver, operation and outcome (ok or the error code).',
    labelNames: ['driver', 'operation', 'outcome'] as const,
    buckets: DRIVER_BUCKETS,
    registers,
  });

  const ruleValue = new Gauge({
    name: 'gridhost_rule_value',
    help: 'Value of a rule\'s metric the last decision used (aggregated over the pool, in the policy\'s units: cpu in percent).',
    labelNames: ['pool', 'rule', 'metric'] as const,
    registers,
  });
  const ruleTarget = new Gauge({
    name: 'gridhost_rule_target',
    help: 'What a rule compares its value with: kind="target" (target tracking), "above" or "below" (threshold bounds).',
    labelNames: ['pool', 'rule', 'metric', 'kind'] as const,
    registers,
  });
  const reconcileRepairs = new Counter({
    name: 'gridhost_reconcile_repairs_total',
    help: 'Repairs by the reconciler, by kind of mismatch: adopted (running guests taken up by a new leader; not a fault), undone, finished, record-gone, unknown-guest, orphan-clone, balancer-orphan, balancer-missing, sick, warm-adopted (see controller/reconciler.ts).',
    labelNames: ['kind'] as const,
    registers,
  });
  // Every kind starts at 0 so increase() sees the first repair.
  for (const kind of REPAIR_KINDS) reconcileRepairs.inc({ kind }, 0);
  const poolLeader = new Gauge({
    name: 'gridhost_pool_leader',
    help: '1 for each pool this gridhost process leads (holds the lease of and acts on); the pool\'s series come from its leader.',
    labelNames: ['pool'] as const,
    registers,
  });
  const storeUp = new Gauge({
    name: 'gridhost_store_up',
    help: '1 while the store answers; 0 during an outage (no pool acts then).',
    registers,
  });
  storeUp.set(1);
  const policyFileInvalid = new Gauge({
    name: 'gridhost_policy_file_invalid',
    help: '1 while a policy file on disk fails validation (the last good version of it, if any, keeps running).',
    labelNames: ['file'] as const,
    registers,
  });

  const guestsSick = new Counter({
    name: 'gridhost_guests_sick_total',
    help: 'Serving guests found sick and taken out of rotation: cause="health" (failed their check fall times after passing) or "gone" (process or domain gone).',
    labelNames: ['pool', 'cause'] as const,
    registers,
  });
  const guestReplacements = new Counter({
    name: 'gridhost_guest_replacements_total',
    help: 'Replacements of sick guests that ended: outcome="done" (the new guest serves, the sick one is retired) or "failed".',
    labelNames: ['pool', 'cause', 'outcome'] as const,
    registers,
  });
  const poolMode = new Gauge({
    name: 'gridhost_pool_mode',
    help: '1 for the mode the pool is in: auto (its policy decides), paused or manual (an operator holds it), 0 for the others.',
    labelNames: ['pool', 'mode'] as const,
    registers,
  });

  const poolHold = new Gauge({
    name: 'gridhost_pool_hold',
    help: '1 for the cause of the pool\'s last held decision (steady, cooldown, flap-budget, hosts-saturated, ...); no series while it acts.',
    labelNames: ['pool', 'cause'] as const,
    registers,
  });
  const flapBudget = new Gauge({
    name: 'gridhost_flap_budget_changes',
    help: 'policy flap_budget: guests started plus stopped by scale actions in its window (kind="spent") and its limit (kind="limit").',
    labelNames: ['pool', 'kind'] as const,
    registers,
  });
  const hostCpuRatio = new Gauge({
    name: 'gridhost_host_cpu_ratio',
    help: 'CPU use of every domain on a host (Xen: xentop summed over all domains / nr_cpus), 0-1, as the last tick of a pool with policy contention measured it.',
    labelNames: ['host'] as const,
    registers,
  });
  // pool -> the hold cause exported, so a new cause replaces the old series.
  const holdSeries = new Map<string, string>();
  const warmGuests = new Gauge({ name: 'gridhost_warm_guests', help: 'Warm guests of the pool: made and paused, not in the balancer, not counted in its size (policy warm_pool).', labelNames: ['pool'] as const, registers });
  const warmPoolTarget = new Gauge({ name: 'gridhost_warm_pool_target_guests', help: 'The warm pool size the policy asks for (warm_pool.size; 0: none).', labelNames: ['pool'] as const, registers });
  const scaleOutGuests = new Counter({
    name: 'gridhost_scale_out_guests_total',
    help: 'Guests a scale-out brought into service, by path: warm (a paused warm guest unpaused) or cold (cloned and booted).',
    labelNames: ['pool', 'path'] as const,
    registers,
  });
  const scaleOutToServing = new Histogram({
    name: 'gridhost_scale_out_to_serving_seconds',
    help: 'Time from a scale-out decision (once made and re-checked; the tick\'s sampling before it not included) to each of its guests serving (healthy and in the balancer), by path: warm or cold.',
    labelNames: ['pool', 'path'] as const,
    buckets: LIFECYCLE_BUCKETS,
    registers,
  });

  // pool -> rule label sets exported, so readings of a removed rule are dropped.
  const ruleSeries = new Map<string, { value: Set<string>; target: Set<string> }>();
  const dropRuleSeries = (pool: string, keep: { value: Set<string>; target: Set<string> }): void => {
    const old = ruleSeries.get(pool);
    for (const k of old?.value ?? []) if (!keep.value.has(k)) ruleValue.remove(JSON.parse(k) as Record<string, string>);
    for (const k of old?.target ?? []) if (!keep.target.has(k)) ruleTarget.remove(JSON.parse(k) as Record<string, string>);
  };

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
    recommendedGuests,
    poolMinGuests,
    poolMaxGuests,
    scaleEvents,
    scaleActions,
    guestProvisionDuration,
    guestRetireDuration,
    hookDuration,
    guestCpuRatio,
    guestLoad,
    policyEvaluationErrors,
    policyLoadErrors,
    launchFailures,
    guestsSick,
    guestReplacements,
    serving: registerServingMetrics(registry),
    circuitBreakerOpen,
    poolBlocked,
    driverOperationDuration,
    ruleValue,
    ruleTarget,
    reconcileRepairs,
    poolLeader,
    storeUp,
    policyFileInvalid,
    poolMode,
    poolHold,
    flapBudget,
    hostCpuRatio,
    warmGuests,
    warmPoolTarget,
    scaleOutGuests,
    scaleOutToServing,


    setPoolHold(pool, cause) {
      const old = holdSeries.get(pool);
      if (old !== undefined && old !== cause) poolHold.remove({ pool, cause: old });
      if (cause === undefined) holdSeries.delete(pool);
      else {
        poolHold.set({ pool, cause }, 1);
        holdSeries.set(pool, cause);
      }
    },

    setHostCpu(hosts) {
      for (const h of hosts) {
        if (h.cpuRatio === undefined) hostCpuRatio.remove({ host: h.host });
        else hostCpuRatio.set({ host: h.host }, h.cpuRatio);
      }
    },

    setFlapBudget(pool, budget) {
      if (budget === undefined) {
        for (const kind of ['spent', 'limit']) flapBudget.remove({ pool, kind });
        return;
      }
      flapBudget.set({ pool, kind: 'spent' }, budget.spent);
      flapBudget.set({ pool, kind: 'limit' }, budget.limit);
    },

    setPoolMode(pool, mode) {
      for (const m of POOL_MODES) poolMode.set({ pool, mode: m }, m === mode ? 1 : 0);
    },

    setRuleReadings(pool, readings) {
      const now = { value: new Set<string>(), target: new Set<string>() };
      for (const r of readings) {
        const labels = { pool, rule: r.rule, metric: r.metric };
        if (r.value !== undefined && Number.isFinite(r.value)) {
          ruleValue.set(labels, r.value);
          now.value.add(JSON.stringify(labels));
        }
        for (const [kind, v] of [['target', r.target], ['above', r.above], ['below', r.below]] as const) {
          if (v === undefined) continue;
          const tl = { ...labels, kind };
          ruleTarget.set(tl, v);
          now.target.add(JSON.stringify(tl));
        }
      }
      dropRuleSeries(pool, now);
      ruleSeries.set(pool, now);
    },

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
      recommendedGuests.remove({ pool });
      poolMinGuests.remove({ pool });
      poolMaxGuests.remove({ pool });
      circuitBreakerOpen.remove({ pool });
      warmGuests.remove({ pool });
      warmPoolTarget.remove({ pool });
      for (const mode of POOL_MODES) poolMode.remove({ pool, mode });
      dropRuleSeries(pool, { value: new Set(), target: new Set() });
      ruleSeries.delete(pool);
      poolBlocked.remove({ pool });
      const hold = holdSeries.get(pool);
      if (hold !== undefined) poolHold.remove({ pool, cause: hold });
      holdSeries.delete(pool);
      for (const kind of ['spent', 'limit']) flapBudget.remove({ pool, kind });
      for (const guest of [...(seen.get(pool)?.keys() ?? [])]) forgetGuest(pool, guest);
      seen.delete(pool);
    },
  };
}
