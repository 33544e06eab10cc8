// What a pool's leader carries into every store write and driver action (see leadership.ts):
// the pool's fencing token, which the store checks on each write, and a local check that says
// whether this process may still act at all (its lease cannot have expired yet).
import type { DriverFence } from '../drivers/hypervisor/hypervisor.ts';
import type { Fence } from '../store/store.ts';

export interface ActingFence extends Fence {
  readonly holder: string;
  /** When the lease was taken (store clock): drivers order leases by it, then by token. */
  readonly acquiredAt: number;
  /** Throws GridhostError GH_LEASE_LOST once this process may no longer act for the pool. */
  check(): void;
}

/** The data a driver or the store is given: never the check, which only the holder can run. */
export function fenceData(f: ActingFence | undefined): Fence | undefined {
  return f && { pool: f.pool, token: f.token };
}

/** What a driver action carries (the lease, without the check). */
export function driverFence(f: ActingFence | undefined): DriverFence | undefined {
  return f && { pool: f.pool, token: f.token, holder: f.holder, acquiredAt: f.acquiredAt };
}
