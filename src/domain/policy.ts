// The canonical, validated form of a policy file. Everything the decision core and the
// controller read from a policy is here, with defaults applied and durations in milliseconds.
// Produced only by src/policy (decode -> defaults -> validate -> freeze); never hand-built
// outside tests.

import type { MetricSourceName } from './metric-catalogue.ts';

export type CloneMethod = 'auto' | 'reflink' | 'copy' | 'lvm-snapshot' | 'qcow2';
export type OnMissing = 'hold' | 'scale-out';
/** What the reconciler does with a running guest of the pool that the store has no live record
 *  of (a crash between a launch's spawn and its record, a deposed leader's launch):
 *  `retire`: stop it and delete its clone (nobody vouched for it);
 *  `adopt`: take it up as a launch's last steps would (recorded booting, the pool's health
 *  check and the balancer's must pass, then healthy); one that fails them is cleaned up. */
export type UnknownGuests = 'retire' | 'adopt';
/** act: carry decisions out; recommend: decide and publish what would be done, launch and retire nothing. */
export type PolicyMode = 'act' | 'recommend';
/** What a scale-out does while guests are on their way up (cloning, booting):
 *  `hold`: nothing, until they serve (one change in flight at a time);
 *  `add`: they count as capacity coming, and more are added when the load needs more than that
 *  (AWS target tracking during instance warm-up). Scale-in still waits for them, and guests
 *  draining or stopping hold the pool either way. */
export type WhileBooting = 'hold' | 'add';
/** Which guests a scale-in retires first (see decision/pick-victims.ts). */
export type VictimOrder = 'newest' | 'oldest' | 'least-busy' | 'spread';
export const VICTIM_ORDERS: readonly VictimOrder[] = ['newest', 'oldest', 'least-busy', 'spread'];

/** Step of a threshold rule: +n / -n guests, or a percentage of the current size. */
export type Step =
  | { kind: 'count'; value: number } // signed, never 0
  | { kind: 'percent'; value: number }; // signed, never 0

/** The metric key under which a `source: prometheus` rule's value is kept in a sample (its
 *  `metric`, read bare). Metric names cannot contain ':', so it never meets another source's. */
export function prometheusMetricKey(rule: string): string {
  return `prometheus:${rule}`;
}

export interface ThresholdRule {
  name: string;
  strategy: 'threshold';
  /** Metric name as the catalogue knows it ("cpu", "rps", "inflight", ...; domain/metric-catalogue.ts). */
  metric: string;
  /** Where the metric comes from. Always set by the policy loader; hand-built rules (tests,
   *  baselines) may leave it out, meaning the bare name (hypervisor or guest). */
  source?: MetricSourceName;
  /** `source: prometheus` in the file: the PromQL query whose one value is the pool's
   *  (`{{pool}}` substituted), kept under `metric` = prometheusMetricKey(name); no `source`. */
  promql?: string;
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
  source?: MetricSourceName;
  /** `source: prometheus` in the file: the PromQL query whose one value is the pool's
   *  (`{{pool}}` substituted), kept under `metric` = prometheusMetricKey(name); no `source`. */
  promql?: string;
  aggregate: 'mean' | 'max' | 'sum';
  /** Per-guest target value of the metric (HPA: desired = ceil(current * value / target)). */
  target: number;
  /** Ratio band around 1.0 inside which the size is held (HPA default 0.1). */
  tolerance: number;
  /** Samples averaged before computing the ratio. */
  for: number;
}

/** A step asked for from outside (POST /api/pools/:pool/signal, an Alertmanager webhook): it
 *  fires while a signal for it waits in the pool's record (decision/signal-book.ts) and reads
 *  no metric. */
export interface SignalRule {
  name: string;
  strategy: 'signal';
  step: Step;
  /** After the rule's signals were served, new ones wait this long before it fires again. */
  cooldownMs: number;
  /** A signal not served within this long after it arrived is dropped. */
  expiresMs: number;
}

/** Rules that read a metric. Signal rules are written among them in the file (`rules:` with
 *  strategy: signal) and kept apart in the canonical policy (Policy.signalRules): they read no
 *  sample, and nothing that reads a rule's metric has to tell them apart. */
export type Rule = ThresholdRule | TargetTrackingRule;

/** Who may send a pool's signals besides the API token holder (policy `webhook:`). */
export interface WebhookSettings {
  /** Name of the environment variable of gridhost's process that holds the pool's webhook
   *  secret (sent as `Authorization: Bearer ...`); absent: only the API token. The secret itself
   *  never sits in the policy (policies are shown and logged; the environment is not). */
  secretEnv?: string;
  /** How long an accepted signal's key is kept, so a redelivery of it is known and acts not again. */
  rememberMs: number;
}

export const DEFAULT_WEBHOOK: WebhookSettings = Object.freeze({ rememberMs: 24 * 3600_000 });

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
  /** The metrics the guest reports there, which rules may use (`source: guest`). */
  metrics: string[];
  /** Give up on a guest that is not healthy after this long. */
  bootTimeoutMs: number;
  /** SIGTERM/`xl shutdown` grace before a forced stop. */
  stopTimeoutMs: number;
  /** Longest time to wait for in-flight requests while draining. */
  drainTimeoutMs: number;
  /** xen: the credit scheduler's weight and cap for every guest of the pool (`guest.credit`),
   *  set after boot and again when a restarted gridhost takes the guest up; absent: Xen's own. */
  credit?: CreditSettings;
  /** xen: vertical first (`guest.vertical`, decision/vertical-step.ts): raise the running guests'
   *  vCPUs/memory before cloning, lower them before retiring; absent: horizontal only. */
  vertical?: VerticalSettings;
}

/** One vertical step: each guest's vCPUs and memory move by this much, within the template's
 *  vcpus..maxvcpus and memory..maxmem. */
export interface VerticalSettings {
  vcpuStep: number;
  /** 0: memory is left as it is. */
  memoryStepMb: number;
}

/** `xl sched-credit2` / `xl sched-credit` parameters (whichever scheduler the dom0 runs). */
export interface CreditSettings {
  /** Relative share of CPU against other domains (Xen's default 256), 1-65535. */
  weight?: number;
  /** At most this % of one physical CPU (100 = one whole CPU); 0 = no cap. */
  cap?: number;
}

/** Points of a guest's life where an operator's hook runs (see drivers/hooks/hook-runner.ts). */
export type HookName = 'before_register' | 'before_retire';
export const HOOK_NAMES: readonly HookName[] = ['before_register', 'before_retire'];

interface HookCommon {
  /** A hook still running after this is killed (command) or aborted (http), and has failed. */
  timeoutMs: number;
  /** What a failed hook means: abandon the step (before_register: the launch fails and the guest
   *  is cleaned up; before_retire: the guest stays in service) or continue as if it succeeded. */
  onFailure: 'abandon' | 'continue';
}

/** A program run with an argument array (never a shell); `command[0]` is absolute or a name
 *  looked up in the hook's fixed PATH. */
export interface CommandHook extends HookCommon {
  kind: 'command';
  command: readonly string[];
}

export interface HttpHook extends HookCommon {
  kind: 'http';
  /** http(s) URL; placeholders in it are percent-encoded. */
  url: string;
  method: 'POST' | 'PUT' | 'GET' | 'DELETE';
  headers: Readonly<Record<string, string>>;
}

export type Hook = CommandHook | HttpHook;

export interface Policy {
  /** Source file (absolute path) this policy came from. */
  file: string;
  pool: string;
  /** act (the parser's default) or recommend; absent (hand-built policies) = act. */
  mode?: PolicyMode;
  min: number;
  max: number;
  guest: GuestTemplateRef;
  balancer: BalancerSettings;
  sampling: { intervalMs: number; windowMs: number };
  /** Newly healthy guests are left out of averages for this long. */
  warmupMs: number;
  scaleOut: { cooldownMs: number; whileBooting: WhileBooting };
  /** `victims`: which guests a scale-in retires (unhealthy and outdated ones always first). */
  scaleIn: { cooldownMs: number; stabilizationMs: number; /** Which guests a scale-in retires; absent (hand-built policies) = newest. */ victims?: VictimOrder };
  onMissing: OnMissing;
  unknownGuests: UnknownGuests;
  rules: Rule[];
  schedules: Schedule[];
  /** The file's `strategy: signal` rules, in file order; absent (hand-built policies) = none. */
  signalRules?: SignalRule[];
  /** Who may send signals and how long their keys are kept; absent (hand-built policies) = DEFAULT_WEBHOOK. */
  webhook?: WebhookSettings;
  /** Lifecycle hooks; absent ones do not run (absent altogether in hand-built policies: none). */
  hooks?: Partial<Record<HookName, Hook>>;
  /** Consecutive failed launches that open the pool's circuit breaker, and how long it stays open. */
  breaker: { failures: number; openMs: number };
  /** Set only by the simulator's baselines (src/simulator/baselines), never by a policy file:
   *  how another autoscaler differs from gridhost where its own project defines it so. */
  peer?: PeerBehaviour;
  autoHeal: AutoHealSettings;
  /** Replacing guests made from another template or base image (controller/rollout.ts); absent
   *  (hand-built policies) = DEFAULT_ROLLOUT. */
  rollout?: RolloutSettings;
  /** At most `changes` guests started plus stopped per `windowMs` (decision/flap-budget.ts);
   *  absent: no budget. */
  flapBudget?: FlapBudgetSettings;
  /** Guests kept made and paused for fast scale-outs (controller/warm-pool.ts); absent = none. */
  warmPool?: WarmPoolSettings;
  /** Contention-aware scale-out (decision/host-contention.ts); absent: hosts are not looked at. */
  contention?: ContentionSettings;
}

/** A host whose domains use at least `saturatedAt` of its CPUs is saturated: placement prefers
 *  other hosts, and a scale-out the rules want holds (`hosts-saturated`) when every host is. */
export interface ContentionSettings {
  saturatedAt: number;
}

export const DEFAULT_CONTENTION: ContentionSettings = Object.freeze({ saturatedAt: 0.9 });

/** A cap on the pool's churn: guests started plus guests stopped by scale actions within a
 *  sliding window. Sick guests' replacements and rollout batches are not counted or held. */
export interface FlapBudgetSettings {
  changes: number;
  windowMs: number;
}

/** The warm pool: `size` guests cloned, booted, health-checked and paused (not in the balancer,
 *  not counted in the pool's size or its averages, but holding their host's memory). A scale-out
 *  unpauses one instead of cloning a guest; the warm pool is refilled in the background. */
export interface WarmPoolSettings {
  size: number;
}

/** How a pool's outdated guests are replaced: `manual` (the default) waits for `gridhost rollout
 *  POOL` or its API twin; `auto` starts as soon as the template or base image changes. */
export type RolloutMode = 'manual' | 'auto';

export interface RolloutSettings {
  mode: RolloutMode;
  /** New guests launched beside the old ones per batch (never past max). */
  maxSurge: number;
  /** Old guests retired before their replacements serve, per batch (0: size never dips). */
  maxUnavailable: number;
  /** Wait between batches. */
  pauseMs: number;
}

export const DEFAULT_ROLLOUT: RolloutSettings = Object.freeze({ mode: 'manual', maxSurge: 1, maxUnavailable: 0, pauseMs: 0 });

export interface PeerBehaviour {
  /** Decide as if nothing were in flight, in both directions (the Kubernetes HPA and the Nomad
   *  Autoscaler decide every period from what they see; guests on their way up still count). */
  ignoreInFlight?: boolean;
  /** When a cooldown starts: when its action finished (gridhost, the default) or when it was
   *  started (the Nomad Autoscaler: once the scale call to its target returns). */
  cooldownFrom?: 'finished' | 'started';
  /** A scale-out also waits for its cooldown after a scale-in (one cooldown for the group or
   *  policy, as AWS simple scaling, the Nomad Autoscaler and OneFlow have), not only after a
   *  scale-out. */
  cooldownAfterAny?: boolean;
  /** Largest scale-out of one decision: the larger of `percent` of the current size and
   *  `guests` more (the HPA's default scale-up behaviour: 100% or 4 pods per 15 s). */
  scaleOutLimit?: { percent: number; guests: number };
}

/** Replacing sick guests (a healthy guest that fails its check `fall` times, or whose process or
 *  domain is gone): a replacement is launched, then the sick one retired. */
export interface AutoHealSettings {
  enabled: boolean;
  /** Replacements of one pool under way at once; more sick guests wait. */
  maxConcurrent: number;
}

export const DEFAULT_AUTO_HEAL: AutoHealSettings = Object.freeze({ enabled: true, maxConcurrent: 1 });

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


/**
 * The keys of a pool's `balancer:` section that one balancer driver alone reads: each driver's
 * keys module adds its own here (declaration merging), so this file names no driver.
 */
export interface BalancerDriverSettings {}

export interface BalancerSettings extends BalancerDriverSettings {
  /** The balancer driver serving the pool (drivers/balancer/balancer-keys.ts lists them; the first, builtin, is the default). */
  driver?: string;
  /** The pool's front end, e.g. 127.0.0.1:8080 (builtin; '' for a driver whose front end is its own). */
  listen: string;
  /** How the balancer checks each backend: only what the policy set; the balancer fills in the
   *  rest with its defaults, which depend on how it reaches guests (run-command.ts). */
  check: Partial<HealthCheckSettings>;
  /** A backend that has not begun its answer by then: the client gets 504 (HAProxy: timeout server). */
  responseTimeoutMs: number;
  /** Fail open (Envoy's panic threshold): when fewer than this percentage of the pool's proven
   *  backends pass their health check, requests are spread over all of them; 0 = never. */
  panicThresholdPercent: number;
}

/** Everything but `listen`, which every pool sets. */
export const DEFAULT_BALANCER: Omit<BalancerSettings, 'listen'> = Object.freeze({ driver: 'builtin', check: Object.freeze({}), responseTimeoutMs: 60_000, panicThresholdPercent: 50 });
