// Domain types shared by every layer. Plain data only: no classes, no I/O.
// Times are epoch milliseconds (numbers) so the pure core never needs a Date or a clock.

/** Lifecycle of one guest. The store records the state *before* each step is attempted,
 *  so a restarted gridhost knows which step a guest was in when it died.
 *
 *   cloning -> booting -> healthy ----------> draining -> stopping -> gone
 *      \          \            \             /                    /
 *       \          \            `-> sick -----'  (replaced first)  /
 *        `----------`----------> failed (cleaned up) -------------'
 *
 * Warm pool (policy `warm_pool`, src/controller/warm-pool.ts): a guest made ahead of need goes
 *   warming (clone, boot, health, pause) -> warm (paused, waiting) -> booting (unpause) -> healthy
 * and is retired from `warm` like any other (stopping -> gone). Neither warming nor warm guests
 * count towards the pool's size, serve, or hold its decisions; they do hold a host's memory.
 *
 * `sick`: it was serving and its health check failed `fall` times in a row, or its process /
 * domain is gone. It is out of the balancer's rotation and no longer counts; a replacement is
 * launched, then it is retired (auto-heal, src/controller/healer.ts). It holds no decision:
 * its replacement (a guest on its way up, `meta.replaces`) is the change in flight, and until
 * that exists decisions count the sick guest as capacity coming (awaitingReplacement()).
 */
export type GuestState = 'cloning' | 'booting' | 'healthy' | 'sick' | 'draining' | 'stopping' | 'gone' | 'failed' | 'warming' | 'warm';

/** How the reconciler repairs a guest found in a state after a restart (see reconciler.ts). */
export type GuestRepair =
  /** A launch was cut short: undo what it made (stop, delete the clone, deregister). */
  | 'undo'
  /** Serving when gridhost stopped: adopt it if its driver still runs it, else mark it gone. */
  | 'adopt-if-running'
  /** A retirement was cut short: finish it. */
  | 'finish-retire'
  /** Sick: left as it is; the pool loop launches its replacement and then retires it. */
  | 'replace'
  /** Warm (made and paused, waiting for a scale-out): kept as it is if its driver still has it,
   *  else marked gone; never undone (it is not half-made). */
  | 'adopt-warm'
  /** Finished: nothing left to repair. */
  | 'none';

/** Every fact the rest of gridhost needs about a guest state. */
export interface GuestStateFacts {
  /** Counts toward the pool's size (a guest on its way up counts, so we never over-launch). */
  counted: boolean;
  /** Not finished: may own a process or domain, a clone or a balancer entry. */
  live: boolean;
  /** A change of the pool is in flight while a guest is in this state. */
  inFlight: boolean;
  /** Takes requests from the balancer. */
  serving: boolean;
  repair: GuestRepair;
}

/**
 * The one table of guest states. Adding a state means adding its row here, and the compiler
 * then finds every exhaustive switch over states that must decide what to do with it.
 */
export const GUEST_STATE_FACTS = {
  cloning: { counted: true, live: true, inFlight: true, serving: false, repair: 'undo' },
  booting: { counted: true, live: true, inFlight: true, serving: false, repair: 'undo' },
  healthy: { counted: true, live: true, inFlight: false, serving: true, repair: 'adopt-if-running' },
  // Not in flight: its replacement is (a guest cloning or booting), so one sick guest never holds
  // the pool's other scaling beyond the rules for guests on their way up.
  sick: { counted: false, live: true, inFlight: false, serving: false, repair: 'replace' },
  draining: { counted: false, live: true, inFlight: true, serving: false, repair: 'finish-retire' },
  stopping: { counted: false, live: true, inFlight: true, serving: false, repair: 'finish-retire' },
  gone: { counted: false, live: false, inFlight: false, serving: false, repair: 'none' },
  failed: { counted: false, live: false, inFlight: false, serving: false, repair: 'none' },
  // Made for the warm pool; not a change of the pool (it holds no decision) but half-made until
  // paused: a restart undoes it and the warm pool makes another.
  warming: { counted: false, live: true, inFlight: false, serving: false, repair: 'undo' },
  // Made, healthy once, paused: a scale-out unpauses it (booting) instead of cloning a guest.
  warm: { counted: false, live: true, inFlight: false, serving: false, repair: 'adopt-warm' },
} as const satisfies Record<GuestState, GuestStateFacts>;

/** In lifecycle order (the table's order). */
export const GUEST_STATES = Object.keys(GUEST_STATE_FACTS) as readonly GuestState[];

const statesWhere = (fact: 'counted' | 'live' | 'inFlight' | 'serving'): readonly GuestState[] =>
  Object.freeze(GUEST_STATES.filter((s) => GUEST_STATE_FACTS[s][fact]));

/** States that count towards a pool's size. */
export const COUNTED_STATES = statesWhere('counted');
/** States that mean a change is in flight for the pool. */
export const IN_FLIGHT_STATES = statesWhere('inFlight');
/** States of guests the balancer sends traffic to. */
export const SERVING_STATES = statesWhere('serving');
/** States of guests that are not finished (everything but gone and failed). */
export const LIVE_STATES = statesWhere('live');

/** Compile-time exhaustiveness for switches over states, actions and other unions. */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(x)}`);
}

export interface Guest {
  /** Unique, shell- and path-safe: `${pool}-${shortid}`. */
  id: string;
  /** Set by the store: absent before the first write, then 1, 2, ...; every update is a
   *  compare-and-set on it (see store/store.ts). */
  version?: number;
  pool: string;
  state: GuestState;
  /** Hypervisor driver that owns it ("local", "xen"). */
  driver: string;
  /** Host the guest runs on ("localhost" or a dom0 name). */
  host: string;
  /** host:port the guest serves on, once known. */
  address?: string;
  /** Epoch ms the guest was created (cloning began). */
  createdAt: number;
  /** Epoch ms the guest became healthy (for warm-up). */
  healthyAt?: number;
  /** Epoch ms of the last state change. */
  updatedAt: number;
  /** Driver-specific facts needed to clean up after a crash (pid, clone path, domid, ...). */
  meta: Record<string, string>;
  /** Last error when state is failed; why, when it is sick. */
  error?: string;
  /** What happened to the guest, oldest first: each lifecycle step and hook with its outcome and
   *  duration (at most GUEST_HISTORY_MAX entries; the oldest are dropped). */
  history?: GuestHistoryEntry[];
}

/** At most this many history entries are kept per guest. */
export const GUEST_HISTORY_MAX = 40;

/** One step of a guest's life, as its history keeps it. */
export interface GuestHistoryEntry {
  /** Epoch ms the step began. */
  at: number;
  /** clone | boot | health | before_register | register | before_retire | drain | deregister |
   *  stop | delete-clone | retired | cleaned-up | ... */
  action: string;
  /** ok; failed; continued (a hook failed and its on_failure said continue); abandoned (a hook
   *  failed and the step it guards was given up). */
  outcome: 'ok' | 'failed' | 'continued' | 'abandoned';
  durationMs: number;
  /** What happened, for people (a hook's exit status, an error's message). */
  detail?: string;
  /** The error's code, when it failed. */
  code?: string;
}

/** Metric values reported for one guest at one tick; a missing key means "not measured". */
export type MetricValues = Record<string, number>;

/** One sampling tick of one pool: what each guest reported. */
export interface PoolSample {
  at: number;
  /** guest id -> metric values. Guests that could not be sampled are absent. */
  guests: Record<string, MetricValues>;
  /** Values about the whole pool (a `source: prometheus` rule's query, under
   *  prometheusMetricKey(rule)); a query that failed or returned nothing is absent. */
  pool?: MetricValues;
  /** What the pool's hypervisor knows about its hosts at this tick (policy contention; absent
   *  without it or when the driver cannot tell). */
  hosts?: HostSample[];
}

/** One host (dom0) as a tick saw it: its CPU use over all its domains and its free memory. */
export interface HostSample {
  host: string;
  /** Sum of every domain's CPU% / (100 x the host's physical CPUs): 1 = every CPU busy. Absent
   *  when it could not be measured this tick. */
  cpuRatio?: number;
  freeMemoryMb?: number;
}

/** What a decision can ask for. Scale events and metrics label actions by this name. */
export type Direction = Decision['action'];
/** The actions that change a pool (the ones that are carried out and recorded as events). */
export type ScaleDirection = Exclude<Direction, 'hold'>;
/** What a scale event did: a decision's action, or `replace` (auto-heal: a sick guest replaced
 *  by a new one; the size stays). */
export type EventDirection = Direction | 'replace';

interface DecisionBase {
  pool: string;
  at: number;
  /** Pool size the decision was made from (counted guests). */
  from: number;
  /** Human-readable, e.g. `scale-out 3 -> 4: cpu mean 83.1% > 70% for 3 samples (84.0, 79.5, 85.9)`. */
  reason: string;
  /** The inputs the decision used, for the event log and replays. */
  inputs: DecisionInputs;
}

/** Add guests until the pool has `to` (> from). */
export interface ScaleOutDecision extends DecisionBase {
  action: 'scale-out';
  to: number;
}

/** Retire guests until the pool has `to` (< from). */
export interface ScaleInDecision extends DecisionBase {
  action: 'scale-in';
  to: number;
}

/** Vertical step (policy `guest.vertical`, decision/vertical-step.ts): the running guests' vCPUs
 *  and memory raised (up, instead of a scale-out) or lowered (down, before a scale-in). The pool
 *  keeps its size: `to` is `from`. */
export interface ResizeDecision extends DecisionBase {
  action: 'resize';
  direction: 'up' | 'down';
  to: number;
  /** Each guest stepped, with its vCPUs and memory (MiB) before and after (the actuator re-checks
   *  `from` against the guest's record before it acts). */
  guests: GuestResize[];
}

export interface GuestResize {
  id: string;
  vcpus: { from: number; to: number };
  memoryMb: { from: number; to: number };
}

/** Change nothing; `reason` says why. */
export interface HoldDecision extends DecisionBase {
  action: 'hold';
}

/**
 * The decision is data: the actuator re-checks it against fresh state before acting. A tagged
 * union on `action`, each kind with its own payload, so every switch over it is exhaustive
 * (assertNever) and a new kind (resize a guest's vCPUs/memory, migrate it to another dom0) is
 * a compile error wherever it is not handled yet.
 */
export type Decision = ScaleOutDecision | ScaleInDecision | ResizeDecision | HoldDecision;
/** The decisions that are carried out (actions): horizontal (scale-out, scale-in) or vertical (resize). */
export type ScaleDecision = ScaleOutDecision | ScaleInDecision | ResizeDecision;
export type HorizontalDecision = ScaleOutDecision | ScaleInDecision;

/** vertical: a resize; horizontal: guests added or retired (metrics count them apart). */
export type ActionKind = 'vertical' | 'horizontal';
export function actionKindOf(d: ScaleDecision): ActionKind {
  return d.action === 'resize' ? 'vertical' : 'horizontal';
}

/** Which way a decision moves the pool's capacity: a resize up counts as a scale-out for
 *  cooldowns (and down as a scale-in), so a vertical step waits like the guests it replaces. */
export function capacitySense(d: ScaleDecision): 'scale-out' | 'scale-in' {
  return d.action === 'resize' ? (d.direction === 'up' ? 'scale-out' : 'scale-in') : d.action;
}

/** The pool size a decision wants (its `from` for a hold). */
export function desiredSize(d: Decision): number {
  switch (d.action) {
    case 'scale-out':
    case 'scale-in':
    case 'resize':
      return d.to;
    case 'hold':
      return d.from;
    default:
      return assertNever(d, 'decision');
  }
}

/** The event recorded for a scale action (what the store, the log and the API show). */
export function scaleEventOf(d: ScaleDecision, outcome: ScaleEvent['outcome'], detail?: string): ScaleEvent {
  const e: ScaleEvent = { pool: d.pool, at: d.at, direction: d.action, from: d.from, to: d.to, reason: d.reason, inputs: d.inputs, outcome };
  if (detail !== undefined) e.detail = detail;
  return e;
}

export interface DecisionInputs {
  /** Rule name -> the aggregated series it looked at (oldest first). */
  series: Record<string, number[]>;
  /** min/max in force (after schedules). */
  min: number;
  max: number;
  /** Names of schedules active at `at`. */
  schedules: string[];
  /** The recommendation before clamping and stabilization, when there was one. */
  recommended?: number;
  /** Which rule won. */
  rule?: string;
}

/** A scale event as stored and shown in the API. */
export interface ScaleEvent {
  id?: number | string;
  pool: string;
  at: number;
  /** A scale-out, scale-in or replace (a store written by an older gridhost may hold other values). */
  direction: EventDirection;
  from: number;
  to: number;
  reason: string;
  inputs: DecisionInputs;
  /** What the actuator did with it; `recommended`: a pool in `mode: recommend` would have done it. */
  outcome: 'started' | 'done' | 'skipped' | 'failed' | 'recommended';
  detail?: string;
  /** Which gridhost process acted, under which fencing token (several processes share a store). */
  holder?: string;
  token?: number;
  /** Set on the event of an operator's request (through the write API). */
  action?: OperatorAction;
  /** Who asked, as the client named itself (the CLI sends user@host); also on the scale actions
   *  that move a pool to the size an operator set by hand. */
  by?: string;
}

/** What an operator can do to a pool through the write API. */
export type OperatorAction = 'scale' | 'pause' | 'resume' | 'retire-guest' | 'breaker-reset' | 'rollout';
export const OPERATOR_ACTIONS: readonly OperatorAction[] = ['scale', 'pause', 'resume', 'retire-guest', 'breaker-reset', 'rollout'];

/**
 * An operator's hand on a pool, kept in the pool's record in the store (so a restart, or another
 * orchestrator, sees it). Absent: the pool's policy decides its size.
 *  - paused: the pool keeps its guests and takes no automatic action (rules, schedules and
 *    bounds do not move it); only operator actions change it.
 *  - manual: the pool is held at `desired`; rules and schedules do not move it.
 * Either lasts until an operator resumes the pool.
 */
export type PoolControl =
  | { mode: 'paused'; by: string; reason: string; at: number }
  | { mode: 'manual'; desired: number; force: boolean; by: string; reason: string; at: number };

/** auto: the policy decides; paused/manual: see PoolControl. */
export type PoolMode = 'auto' | PoolControl['mode'];
