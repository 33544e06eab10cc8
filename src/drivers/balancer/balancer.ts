// The load balancer role. Implementations: the builtin HTTP reverse proxy (embedded default)
// and HAProxy through its runtime API (later). Shaped on HAProxy's server states.
//
// Error contract:
//  - rejects only with GridhostError: GH_BALANCER_FAILED for a balancer that cannot be reached
//    or refused the change; GH_BACKEND_UNKNOWN from setDrain() for an unknown backend.
//  - add() of an id that exists with the same address is a no-op (idempotent); remove() of an
//    unknown id is success, so cleanup after a crash can always call it.

import type { BalancerSettings } from '../../domain/policy.ts';

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

export interface Balancer {
  readonly name: string;
  /** Create (or update) the pool's front end, how it checks backends and how long it waits for
   *  them; idempotent. A changed `check` applies from each backend's next check. Omitted
   *  settings: the balancer's defaults. */
  ensurePool(pool: string, listen: string, healthPath: string, settings?: PoolSettings): Promise<void>;
  /** Stop serving a pool's front end (guests are untouched). */
  removePool(pool: string): Promise<void>;
  /** Register a backend; it receives traffic only once the balancer's health check passes. */
  add(pool: string, id: string, address: string): Promise<void>;
  /** No new requests to the backend; requests in flight finish. */
  setDrain(pool: string, id: string): Promise<void>;
  /** Forget the backend. Idempotent. */
  remove(pool: string, id: string): Promise<void>;
  list(pool: string): Promise<BackendStatus[]>;
  close(): Promise<void>;
}
