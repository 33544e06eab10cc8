// The balancer drivers' keys, one module per driver: which `balancer.driver:` values exist, the
// keys of a policy's `balancer:` section each one reads, and their gridhost.yaml sections. The
// policy parser and the config loader ask this list instead of naming drivers; a new driver is
// one line here and one in balancer-drivers.ts. Pure: no driver implementation is imported.
import type { DriverSettings } from '../../config/config-types.ts';
import type { BalancerSettings } from '../../domain/policy.ts';
import type { Fields, YamlReader } from '../../policy/yaml-reader.ts';
import type { ConfigSection, PolicyKeyOwner } from '../driver-keys.ts';
import { builtinKeys } from './builtin/builtin-keys.ts';
import { haproxyKeys } from './haproxy/haproxy-config.ts';

/** What one driver reads of a pool's `balancer:` section besides `driver` and `check`. */
export type BalancerPolicyPart = Partial<Omit<BalancerSettings, 'driver' | 'check'>>;

export interface BalancerPolicyContext {
  /** The pool's name, when valid. */
  pool: string | undefined;
  /** `balancer.check`, shared by every driver, when set (a driver may refuse some of its keys). */
  check: Fields | undefined;
}

export interface BalancerKeys<K extends keyof DriverSettings = keyof DriverSettings> extends PolicyKeyOwner {
  /**
   * Decode -> defaults -> validate this driver's keys of `balancer:` (undefined when the pool has
   * no such section). Issues go to `r` at their lines; undefined when one was found.
   */
  parsePolicy(r: YamlReader, bal: Fields | undefined, ctx: BalancerPolicyContext): BalancerPolicyPart | undefined;
  /** Its sections of gridhost.yaml, if it has any. */
  readonly config?: ConfigSection<K>;
}

/** The first is the default (`balancer.driver` left out). */
export const BALANCER_KEYS: readonly BalancerKeys[] = [builtinKeys, haproxyKeys];
