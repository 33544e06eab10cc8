// What a pool loop is given (pool-loop.ts): the store, the drivers it reads and acts through, and
// the optional parts (auto-heal, leadership's fence, reconciliation, rollouts, the warm pool,
// host facts, evacuation) a pool has or goes without.
import type { Guest, HostSample } from '../domain/types.ts';
import type { Store } from '../store/store.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import type { PoolQuery } from '../drivers/prometheus/pool-query.ts';
import type { GridhostError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import type { ActingFence } from './acting-fence.ts';
import type { Actuator } from './actuator.ts';
import type { Healer } from './healer.ts';
import type { PoolRollout } from './rollout.ts';
import type { PoolEvacuation } from './evacuation.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';

export interface PoolLoopDeps {
  store: Store;
  metrics: MetricsSource;
  /** Answers rules with `source: prometheus`; absent = their metric is always missing. */
  poolQuery?: PoolQuery;
  actuator: Actuator;
  clock: Clock;
  telemetry: Telemetry;
  /** Guests on a host that stopped answering: left out of the pool's size so it is rebuilt elsewhere. */
  isLost?: (g: Guest) => boolean;
  /** Why the pool's balancer cannot register or drain guests now (Balancer.blocked); undefined = it can. */
  blockedBy?: (pool: string) => GridhostError | undefined;
  /** Auto-heal; without it sick guests go unnoticed (unit tests of other behaviour). */
  healer?: Healer;
  /** The pool's lease, when this loop runs as its leader (see leadership.ts): every store write
   *  and driver action carries it. */
  fence?: ActingFence;
  /** Reconcile the pool (reconciler.ts); run in the loop's action slot, so never beside an
   *  action of its own, every reconcileEveryMs and after an action that met a driver error. */
  reconcile?: () => Promise<void>;
  /** Default 5 minutes. */
  reconcileEveryMs?: number;
  /** Replaces guests made from another template or base image (rollout.ts); absent: no rollouts. */
  rollout?: PoolRollout;
  /** Makes and trims the warm pool's guests (policy warm_pool, warm-pool.ts); absent: no warm pool. */
  lifecycle?: GuestLifecycle;
  /** The pool's hosts now (Hypervisor.hostFacts), asked each tick of a policy with contention. */
  hostFacts?: () => Promise<HostSample[] | undefined>;
  /** Moves guests off hosts an operator closed (evacuation.ts); absent: none. */
  evacuation?: PoolEvacuation;
}
