// Which metrics a policy's rules can scale on, and where each one comes from: one entry per
// source. The policy loader rejects a rule whose metric no source provides for its pool (naming
// the ones that exist), and the runtime reads a rule's value under the key its source gives it.
//
// Adding a source is one entry in METRIC_SOURCES (its name becomes a value of a rule's
// `source:` key) plus the driver that measures it. Sources are listed in precedence order: a
// rule without `source:` takes the first source that provides its metric, so a new source
// appended at the end never changes what an existing policy means.
//
// Pure data and pure functions: no I/O.
import { BALANCER_METRICS, balancerSampleKey } from './balancer-metrics.ts';

/** One metric as people read it: in error messages, `gridhost validate`, docs. */
export interface MetricInfo {
  name: string;
  /** Unit suffix in reasons and messages ("%" for cpu, "" for counts and rates). */
  unit: string;
  /** What it measures and how, in a few words. */
  what: string;
}

/** What a source's metric list may depend on: the pool's policy. */
export interface PoolMetricFacts {
  /** guest.driver: "local" | "xen". */
  driver: string;
  /** guest.metrics: the names the pool's guests report on their metrics endpoint. */
  guestMetrics: readonly string[];
}

export interface MetricSource {
  /** Where the values come from, for people. */
  what: string;
  /** The metrics this source provides for a pool with these facts. */
  metrics(facts: PoolMetricFacts): readonly MetricInfo[];
  /**
   * The key under which this source's value of `metric` appears in a guest's sample values
   * (PoolSample.guests[id]). hypervisor and guest use the bare name (so stored samples and
   * replays keep their keys), and so their names must never overlap (the loader refuses a
   * guest metric named like a hypervisor one). A new source whose names may repeat others'
   * (the balancer's `inflight`) prefixes them: `balancer:inflight`.
   */
  sampleKey(metric: string): string;
  /** Only for rules that name it (`source:`): its names repeat other sources' (the balancer's
   *  rps, inflight), and a rule written without a source must never silently read it instead. */
  explicitOnly?: boolean;
}

/** What each hypervisor driver measures about its guests from outside. */
export const HYPERVISOR_METRICS: Readonly<Record<string, readonly MetricInfo[]>> = Object.freeze({
  local: [{ name: 'cpu', unit: '%', what: '% of one CPU, from /proc' }],
  xen: [
    { name: 'cpu', unit: '%', what: '% of one physical CPU, from xentop' },
    { name: 'memory_mb', unit: '', what: 'memory in MiB, from xentop' },
    { name: 'vcpus', unit: '', what: 'vCPUs, from xentop' },
  ],
});

/** What the example guest (templates/images/web) reports on /metrics: the default of guest.metrics. */
export const DEFAULT_GUEST_METRICS: readonly string[] = Object.freeze(['rps', 'inflight', 'requests_total', 'cpu_seconds']);

const GUEST_METRIC_WHAT: Readonly<Record<string, string>> = {
  rps: 'requests per second, reported by the guest',
  inflight: 'requests in progress, reported by the guest',
};

const bare = (metric: string): string => metric;

export const METRIC_SOURCES = {
  hypervisor: {
    what: 'measured from outside the guest by its hypervisor driver (local: /proc, xen: xentop)',
    metrics: (f) => HYPERVISOR_METRICS[f.driver] ?? [],
    sampleKey: bare,
  },
  guest: {
    what: "reported by the guest on its metrics endpoint (guest.metrics_path); the policy's guest.metrics lists them",
    metrics: (f) => f.guestMetrics.map((name) => ({ name, unit: '', what: GUEST_METRIC_WHAT[name] ?? 'reported by the guest' })),
    sampleKey: bare,
  },
  // What clients experience, there even when a guest is too busy to answer its metrics endpoint.
  balancer: {
    what: "measured of each guest by the pool's balancer over the sampling interval (drivers/metrics/balancer-source.ts)",
    metrics: () => BALANCER_METRICS,
    sampleKey: balancerSampleKey,
    explicitOnly: true,
  },
} as const satisfies Record<string, MetricSource>;

export type MetricSourceName = keyof typeof METRIC_SOURCES;

export const METRIC_SOURCE_NAMES = Object.freeze(Object.keys(METRIC_SOURCES)) as readonly MetricSourceName[];

/** Names no guest may report as its own: a hypervisor measures them under the same sample key. */
export const RESERVED_GUEST_METRICS: ReadonlySet<string> = new Set(Object.values(HYPERVISOR_METRICS).flat().map((m) => m.name));

/** The first source (in precedence order) that provides `metric` for the pool, if any. */
export function sourceOf(metric: string, facts: PoolMetricFacts): MetricSourceName | undefined {
  return METRIC_SOURCE_NAMES.find((s) => !isExplicitOnly(s) && METRIC_SOURCES[s].metrics(facts).some((m) => m.name === metric));
}

function isExplicitOnly(s: MetricSourceName): boolean {
  return (METRIC_SOURCES[s] as MetricSource).explicitOnly === true;
}

/** Every metric a rule of this pool can use, by source, in precedence order. */
export function availableMetrics(facts: PoolMetricFacts): { source: MetricSourceName; metrics: readonly MetricInfo[] }[] {
  return METRIC_SOURCE_NAMES.map((source) => ({ source, metrics: METRIC_SOURCES[source].metrics(facts) }));
}

/** "cpu (hypervisor); rps, inflight (guest)": the list an error message names. */
export function describeAvailable(facts: PoolMetricFacts): string {
  const parts = availableMetrics(facts)
    .filter((s) => s.metrics.length > 0)
    .map((s) => `${s.metrics.map((m) => m.name).join(', ')} (${isExplicitOnly(s.source) ? `source: ${s.source}` : s.source})`);
  return parts.length > 0 ? parts.join('; ') : 'none';
}

/**
 * Where a rule's values are in a guest's sample values. A rule without `source` (hand-built in
 * tests and baselines) is read under its bare name, which is what hypervisor and guest use.
 */
export function sampleKeyOf(rule: { metric: string; source?: MetricSourceName }): string {
  return rule.source === undefined ? rule.metric : METRIC_SOURCES[rule.source].sampleKey(rule.metric);
}
