// The hypervisor drivers' keys, one module per driver: which `guest.driver:` values exist, how
// each reads `guest.image` and which clone methods it supports, and their gridhost.yaml
// sections. The policy parser and the config loader ask this list instead of naming drivers; a
// new driver is one line here and one in hypervisor-drivers.ts. Pure: no implementation imported.
import type { DriverSettings } from '../../config/config-types.ts';
import type { CloneMethod, GuestTemplateRef } from '../../domain/policy.ts';
import type { Field, Fields, YamlReader } from '../../policy/yaml-reader.ts';
import type { ConfigSection, PolicyKeyOwner } from '../driver-keys.ts';
import { localKeys } from './local/local-keys.ts';
import { xenKeys } from '../xen/xen-settings.ts';

export interface GuestKeyContext {
  /** A path relative to the templates folder that must stay inside it (and exist, when checked). */
  templatePath(f: Field, what: string): string | undefined;
}

export interface HypervisorKeys<K extends keyof DriverSettings = keyof DriverSettings> extends PolicyKeyOwner {
  readonly name: string;
  /** The `guest.clone` methods it supports; every driver supports `auto`, the default. */
  readonly clones: readonly CloneMethod[];
  /** `guest.image` (required) as this driver names a base image; undefined after an issue. */
  image(r: YamlReader, f: Field, ctx: GuestKeyContext): string | undefined;
  /** Its own keys of `guest:` (policyKeys), decoded and validated; only asked of the pool's driver. */
  guestKeys?(r: YamlReader, guest: Fields): Partial<Pick<GuestTemplateRef, 'credit' | 'vertical'>>;
  /** Its sections of gridhost.yaml, if it has any. */
  readonly config?: ConfigSection<K>;
}

/** The first is the default (`guest.driver` left out). */
export const HYPERVISOR_KEYS: readonly HypervisorKeys[] = [localKeys, xenKeys];
