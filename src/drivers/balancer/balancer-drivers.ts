// The balancer drivers gridhost can run, one module per driver: its keys (balancer-keys.ts) and
// its create(). `gridhost run` builds each one the config allows and serves every pool with the
// one its policy names (balancer-set.ts); it names no driver itself.
import type { GridhostConfig } from '../../config/config-types.ts';
import type { Logger } from '../../observability/logger.ts';
import type { GuestRoutes } from '../guest-net/guest-net.ts';
import type { Balancer } from './balancer.ts';
import type { BalancerKeys } from './balancer-keys.ts';
import { builtinDriver } from './builtin/builtin-driver.ts';
import { haproxyDriver } from './haproxy/haproxy-driver.ts';

export interface BalancerDeps {
  logger: Logger;
  /** How gridhost reaches each host's guests (through its dom0, or directly); absent = directly. */
  routes: GuestRoutes | undefined;
}

export interface BalancerDriver {
  readonly keys: BalancerKeys;
  /** The driver, or undefined when gridhost.yaml does not configure it (pools naming it are refused with `unconfigured`). */
  create(config: GridhostConfig, deps: BalancerDeps): Balancer | undefined;
  /** What to tell a pool that names the driver when create() gave none. */
  readonly unconfigured?: string;
}

/** In the order of BALANCER_KEYS (the first is the default). */
export const BALANCER_DRIVERS: readonly BalancerDriver[] = [builtinDriver, haproxyDriver];
