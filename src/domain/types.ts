// Domain types shared by every layer. Plain data only: no classes, no I/O.
// Times are epoch milliseconds (numbers) so the pure core never needs a Date or a clock.

/** Lifecycle of one guest. The store records the state *before* each step is attempted,
 *  so a restarted gridhost knows which step a guest was in when it died.
 *
 *   cloning -> booting -> healthy -> draining -> stopping -> gone
 *      \          \                                  /
 *       `----------`----------> failed (cleaned up) -'
 */
export type GuestState = 'cloning' | 'booting' | 'healthy' | 'draining' | 'stopping' | 'gone' | 'failed';

export const GUEST_STATES: readonly GuestState[] = ['cloning', 'booting', 'healthy', 'draining', 'stopping', 'gone', 'failed'];

/** States that count towards a pool's size (a guest on its way up counts, so we never over-launch). */
export const COUNTED_STATES: readonly GuestState[] = ['cloning', 'booting', 'healthy'];
/** States that mean a change is in flight for the pool. */
export const IN_FLIGHT_STATES: readonly GuestState[] = ['cloning', 'booting', 'draining', 'stopping'];

export interface Guest {
  /** Unique, shell- and path-safe: `${pool}-${shortid}`. */
  id: string;
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
  /** Last error, when state is failed. */
  error?: string;
}

/** Metric values reported for one guest at one tick; a missing key means "not measured". */
export type MetricValues = Record<string, number>;

/** One sampling tick of one pool: what each guest reported. */
export interface PoolSample {
  at: number;
  /** guest id -> metric values. Guests that could not be sampled are absent. */
  guests: Record<string, MetricValues>;
}

export type Direction = 'scale-out' | 'scale-in' | 'hold';

/** The decision is data: the actuator re-checks it against fresh state before acting. */
export interface Decision {
  pool: string;
  at: number;
  direction: Direction;
  /** Pool size the decision was made from (counted guests). */
  from: number;
  /** Desired pool size. Equal to `from` for hold. */
  to: number;
  /** Human-readable, e.g. `scale-out 3 -> 4: cpu mean 83.1% > 70% for 3 samples (84.0, 79.5, 85.9)`. */
  reason: string;
  /** The inputs the decision used, for the event log and replays. */
  inputs: DecisionInputs;
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
  direction: Direction;
  from: number;
  to: number;
  reason: string;
  inputs: DecisionInputs;
  /** What the actuator did with it. */
  outcome: 'started' | 'done' | 'skipped' | 'failed';
  detail?: string;
}
