// The canonical, validated form of a policy file. Everything the decision core and the
// controller read from a policy is here, with defaults applied and durations in milliseconds.
// Produced only by src/policy (decode -> defaults -> validate -> freeze); never hand-built
// outside tests.

export type CloneMethod = 'auto' | 'reflink' | 'copy' | 'lvm-snapshot' | 'qcow2';
export type OnMissing = 'hold' | 'scale-out';

/** Step of a threshold rule: +n / -n guests, or a percentage of the current size. */
export type Step =
  | { kind: 'count'; value: number } // signed, never 0
  | { kind: 'percent'; value: number }; // signed, never 0

export interface ThresholdRule {
  name: string;
  strategy: 'threshold';
  /** Metric key as reported by the metrics sources ("cpu", "rps", "inflight", ...). */
  metric: string;
  /** How the per-guest values of one tick are combined. */
  aggregate: 'mean' | 'max' | 'sum';
  /** Exactly one of above/below is set. `above` triggers when value > bound; `below` when value < bound. */
  above?: number;
  below?: number;
  /** Consecutive samples that must all cross the bound. */
  for: number;
  step: Step;
}

export interface TargetTrackingRule {
  name: string;
  strategy: 'target-tracking';
  metric: string;
  aggregate: 'mean' | 'max' | 'sum';
  /** Per-guest target value of the metric (HPA: desired = ceil(current * value / target)). */
  target: number;
  /** Ratio band around 1.0 inside which the size is held (HPA default 0.1). */
  tolerance: number;
  /** Samples averaged before computing the ratio. */
  for: number;
}

export type Rule = ThresholdRule | TargetTrackingRule;

export interface Schedule {
  name: string;
  /** node-cron expression (5 or 6 fields) marking the start of the window. */
  cron: string;
  /** IANA time zone the cron expression is read in. */
  timezone: string;
  /** Window length after each cron fire. */
  durationMs: number;
  /** Bounds in force during the window (either or both). */
  min?: number;
  max?: number;
}

export interface GuestTemplateRef {
  /** Hypervisor driver: "local" (processes) or "xen" (xl over SSH). */
  driver: string;
  /** Path of the guest template (local: process template YAML; xen: xl.cfg template). Resolved absolute. */
  template: string;
  /** Base image: local driver: a directory; xen: a disk image / LV on dom0. Resolved absolute for local. */
  image: string;
  clone: CloneMethod;
  /** HTTP path answering 200 when the guest is ready. */
  healthPath: string;
  /** HTTP path serving the guest's own metrics (JSON or Prometheus text). */
  metricsPath: string;
  /** Give up on a guest that is not healthy after this long. */
  bootTimeoutMs: number;
  /** SIGTERM/`xl shutdown` grace before a forced stop. */
  stopTimeoutMs: number;
  /** Longest time to wait for in-flight requests while draining. */
  drainTimeoutMs: number;
}

export interface Policy {
  /** Source file (absolute path) this policy came from. */
  file: string;
  pool: string;
  min: number;
  max: number;
  guest: GuestTemplateRef;
  balancer: BalancerSettings;
  sampling: { intervalMs: number; windowMs: number };
  /** Newly healthy guests are left out of averages for this long. */
  warmupMs: number;
  scaleOut: { cooldownMs: number };
  scaleIn: { cooldownMs: number; stabilizationMs: number };
  onMissing: OnMissing;
  rules: Rule[];
  schedules: Schedule[];
  /** Consecutive failed launches that open the pool's circuit breaker, and how long it stays open. */
  breaker: { failures: number; openMs: number };
}

/** The balancer's own health check of each backend (HAProxy's inter, timeout check, rise, fall). */
export interface HealthCheckSettings {
  /** Time between the end of one check and the start of the next. */
  intervalMs: number;
  /** A check that has not answered by then fails. */
  timeoutMs: number;
  /** Consecutive passing checks that put a backend in rotation. */
  rise: number;
  /** Consecutive failing checks that take it out. */
  fall: number;
}


export interface BalancerSettings {
  /** The pool's front end, e.g. 127.0.0.1:8080. */
  listen: string;
  /** How the balancer checks each backend: only what the policy set; the balancer fills in the
   *  rest with its defaults, which depend on how it reaches guests (run-command.ts). */
  check: Partial<HealthCheckSettings>;
  /** A backend that has not begun its answer by then: the client gets 504 (HAProxy: timeout server). */
  responseTimeoutMs: number;
}

/** Everything but `listen`, which every pool sets. */
export const DEFAULT_BALANCER: Omit<BalancerSettings, 'listen'> = Object.freeze({ check: Object.freeze({}), responseTimeoutMs: 60_000 });
