// The hypervisor drivers gridhost can run, one module per driver: its keys (hypervisor-keys.ts)
// and its create(). `gridhost run` builds each one the config allows and hands every guest to
// the one its pool's policy names (guest.driver); it names no driver itself.
import type { GridhostConfig } from '../../config/config-types.ts';
import type { GuestConnect } from '../guest-net/guest-net.ts';
import type { MetricsSource } from '../metrics/metrics-source.ts';
import type { Hypervisor } from './hypervisor.ts';
import type { HypervisorKeys } from './hypervisor-keys.ts';
import { localDriver } from './local/local-driver.ts';
import { xenDriver } from '../xen/xen-driver.ts';

export interface HypervisorDeps {
  /** Kill tests only: a step a launch waits at for ever (see run-command.ts); absent = none. */
  pauseAt?: (step: string, guest: string) => Promise<void>;
}

/** What one driver brings to a run. */
export interface HypervisorStack {
  hypervisor: Hypervisor;
  /** What it measures of its guests from outside (local: /proc, xen: xentop). */
  sources: MetricsSource[];
  /** How its hosts' guests are reached; `via` undefined = directly. Hosts not listed: directly. */
  routes: Array<{ name: string; via: GuestConnect | undefined }>;
  /** Releases what the stack holds beyond the hypervisor (connections); guests keep running. */
  close(): Promise<void>;
}

export interface HypervisorDriver {
  readonly keys: HypervisorKeys;
  /** The driver, or undefined when gridhost.yaml does not configure it. */
  create(config: GridhostConfig, deps: HypervisorDeps): HypervisorStack | undefined;
  /** What to tell a pool that names the driver when create() gave none. */
  readonly unconfigured?: string;
}

/** In the order of HYPERVISOR_KEYS (the first is the default). */
export const HYPERVISOR_DRIVERS: readonly HypervisorDriver[] = [localDriver, xenDriver];
