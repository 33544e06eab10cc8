// The load balancer role. Implementations: the builtin HTTP reverse proxy (embedded default)
// and HAProxy through its runtime API (haproxy/). Shaped on HAProxy's server states and its
// `show stat` counters, so every driver reports the same serving figures (serving()).
//
// Error contract:
//  - rejects only with GridhostError: GH_BALANCER_FAILED for a balancer that cannot be reached
//    or refused the change (a driver may use its own codes instead, listed in its module:
//    GH_HAPROXY_*); GH_BACKEND_UNKNOWN from setDrain() for an unknown backend.
//  - add() of an id that exists with the same address is a no-op (idempotent); remove() of an
//    unknown id is success, so cleanup after a crash can always call it.
//  - serving() and list() of a pool without a front end reject GH_BALANCER_FAILED.
//  - blocked() answers from what the balancer last saw (no I/O): a pool it cannot register
//    backends in now, for a reason on the balancer's side that it keeps retrying.

import type { BalancerSettings } from '../../domain/policy.ts';
import type { GridhostError } from '../../errors/errors.ts';

export type PoolSettings = Partial<Omit<BalancerSettings, 'listen'>>;

export type BackendAdmin = 'ready' | 'drain';

export interface BackendStatus {
  id: string;
  address: string;
  admin: BackendAdmin;
  /** Last result of the balancer's own health check. */
  healthy: boolean;
  /** Requests in flight through the balancer to this backend. */
  active: number;
  /** Requests completed since it was added. */
  served: number;
  /** Requests that ended without a complete response since it was added (when the balancer counts them). */
  failed?: number;
}

/** HTTP status classes, counted as HAProxy does (hrsp_1xx .. hrsp_5xx; its hrsp_other goes to 5xx). */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';
export const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** A distribution of durations, as Prometheus histograms keep them. */
export interface DurationHistogram {
  /** Upper bounds of the buckets in seconds, ascending; an implicit +Inf bucket follows. */
  bounds: readonly number[];
  /** Observations per bucket, NOT cumulative: length bounds.length + 1, the last one is +Inf. */
  counts: readonly number[];
  /** Sum of all observations, seconds. */
  sum: number;
}

/**
 * What a pool's front end, or one backend, has served. Counters are cumulative since the front
 * end (or the backend, in this balancer) was created and never decrease; `inFlight` and
 * `queued` are gauges (now). A driver that cannot tell a figure apart reports 0 for a counter
 * and leaves optional figures out; it never invents them.
 */
export interface ServingStats {
  /** Requests received (front end) or tries sent to the backend (HAProxy: req_tot / stot). */
  requests: number;
  /** Responses clients got, by status class, including those the balancer made itself
   *  (503 no backend at the front end; 502/504 for the backend whose failure caused them). */
  responses: Record<StatusClass, number>;
  /** Tries that the backend broke: connection refused or reset, or a response cut short
   *  (HAProxy: econ + eresp). */
  upstreamErrors: number;
  /** Tries the backend did not begin answering within `response_timeout` (answered 504). */
  upstreamTimeouts: number;
  /** Requests in flight now (HAProxy: scur). */
  inFlight: number;
  /** Request-seconds spent in flight so far (the integral of inFlight over time): its increase
   *  over an interval divided by the interval is the mean in flight. Absent when the balancer
   *  only knows the current value. */
  inFlightSeconds?: number;
  /** Requests waiting in the balancer for a connection to a backend now (HAProxy: qcur). */
  queued: number;
  /** Time from a request's arrival to the response's headers (front end: as the client saw
   *  it; backend: from the try's start). Absent when the balancer keeps only averages. */
  latency?: DurationHistogram;
  /** Time requests waited in the balancer for a connection to a backend (HAProxy: qtime). */
  queueTime?: DurationHistogram;
}

/** One health check's outcome, as the balancer saw it. */
export interface CheckResult {
  /** Epoch ms the check ended. */
  at: number;
  ok: boolean;
  /** What it saw: `HTTP 200`, `HTTP 503`, `timeout after 2000 ms`, `connection refused
   *  (ECONNREFUSED)` (HAProxy: check_status, check_code, check_desc). */
  detail: string;
}

export interface BackendServing extends BackendStatus {
  /** Times the backend went from healthy to unhealthy since it was added (HAProxy: chkdown). */
  downs: number;
  /** The latest health check; absent before the first one ended. */
  lastCheck?: CheckResult;
  /** Epoch ms `healthy` last changed; absent while it never did. */
  changedAt?: number;
  /** Epoch ms its last request through the balancer completed; absent when none did or the
   *  balancer cannot say. */
  servedAt?: number;
  stats: ServingStats;
}

export interface PoolServing {
  pool: string;
  /** Everything the front end served, including requests no backend could take. */
  frontend: ServingStats;
  /** Requests the balancer answered 503 itself because no backend could take them. */
  noBackend: number;
  /** True while fewer backends than the panic threshold pass their checks, so requests are
   *  spread over every ready backend that has passed before, healthy or not (fail-open). */
  failOpen: boolean;
  /** Times fail-open began since the front end was created. */
  failOpenEntered: number;
  backends: BackendServing[];
}

export type BalancerChangeKind =
  | 'pool-up' | 'pool-down' | 'added' | 'removed' | 'drain'
  | 'healthy' | 'unhealthy'
  /** The panic threshold was crossed: requests go to every proven backend (and back). */
  | 'fail-open' | 'fail-open-over'
  /** No backend can take a request any more (clients get 503), and the first one that can again. */
  | 'no-backend' | 'serving';

/** A state change of a pool or backend, for logs. Drivers report them as they see them (the
 *  builtin at once, a polling driver when it polls); never per request. */
export interface BalancerChange {
  kind: BalancerChangeKind;
  pool: string;
  /** Backend id, for backend events. */
  id?: string;
  /** Backend address, or the bound front end address for pool events. */
  address?: string;
  /** Why, in words an operator can act on (which check, what it answered; how many backends pass). */
  reason?: string;
}

export interface Balancer {
  readonly name: string;
  /** Create (or update) the pool's front end, how it checks backends and how long it waits for
   *  them; idempotent. A changed `check` applies from each backend's next check. Omitted
   *  settings: the balancer's defaults. */
  ensurePool(pool: string, listen: string, healthPath: string, settings?: PoolSettings): Promise<void>;
  /** Stop serving a pool's front end (guests are untouched). */
  removePool(pool: string): Promise<void>;
  /**
   * Register a backend; it receives traffic only once the balancer's health check passes.
   * `address` is the guest's host:port on its own network; `via` names the host (a dom0) whose
   * connection the route to it goes through, when the guest's network is not routed from the
   * balancer (absent: `address` is dialled directly).
   */
  add(pool: string, id: string, address: string, via?: string): Promise<void>;
  /** No new requests to the backend; requests in flight finish. */
  setDrain(pool: string, id: string): Promise<void>;
  /** Forget the backend. Idempotent. */
  remove(pool: string, id: string): Promise<void>;
  list(pool: string): Promise<BackendStatus[]>;
  /** The pool's serving figures and each backend's health, in one snapshot. */
  serving(pool: string): Promise<PoolServing>;
  /** Why the pool cannot take new backends now (undefined: it can). No I/O. */
  blocked?(pool: string): GridhostError | undefined;
  close(): Promise<void>;
}
