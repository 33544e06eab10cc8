// What every driver module declares about its keys, whatever its role: its sections of
// gridhost.yaml and, in a policy's section of its role, the keys only it reads. The generic
// parsers (config/load-config.ts, policy/parse-policy.ts) ask the role's registry for these
// instead of naming drivers. Pure: decoding and validation through the yaml-reader, no I/O, so
// the policy parser (and the simulator) can import it without any driver implementation.
import type { DriverSettings } from '../config/config-types.ts';
import type { Field, Fields, YamlReader } from '../policy/yaml-reader.ts';

/** How a driver's section may resolve paths written relative to gridhost.yaml's folder (or ~). */
export interface ConfigContext {
  resolvePath(p: string): string;
}

/**
 * A driver's top-level sections of gridhost.yaml. `name` is also its key in
 * GridhostConfig.drivers, whose type each driver extends with its settings (DriverSettings,
 * declaration merging as fastify's plugins do), so create() gets them typed.
 */
export interface ConfigSection<K extends keyof DriverSettings> {
  readonly name: K;
  /** Top-level keys of gridhost.yaml this driver owns; no two drivers share one. */
  readonly keys: readonly string[];
  /**
   * Decode -> defaults -> validate; called only when one of `keys` is in the file. Every problem
   * is an issue in `r` at its line; undefined when one was found, or when what is set configures
   * no driver (e.g. an empty `dom0s:`).
   */
  parse(r: YamlReader, top: Fields, ctx: ConfigContext): NonNullable<DriverSettings[K]> | undefined;
}

/** Every registered driver's config sections, for the config loader. */
export type AnyConfigSection = { [K in keyof DriverSettings]: ConfigSection<K> }[keyof DriverSettings];

/** A driver's keys in its role's section of a policy (`guest:` or `balancer:`). */
export interface PolicyKeyOwner {
  readonly name: string;
  /** Keys of the section that only this driver reads. */
  readonly policyKeys: readonly string[];
  /** Said of one of its own keys when a pool of another driver sets it: "is for <role>: NAME (note)". */
  readonly keyNotes?: Readonly<Record<string, string>>;
  /** Where to set instead another driver's key that a pool of this driver sets: "is for ...; instead". */
  readonly instead?: Readonly<Record<string, string>>;
  /** The role's section (flow YAML) setting every key of this driver: a probe the policy JSON
   *  Schema is built from (policy-schema.ts), so its keys are in the schema. */
  readonly probe?: string;
}

/**
 * `<role>.driver:` among the registered drivers (the first is the default). An unknown one is an
 * issue listing the valid ones.
 */
export function chooseDriver<D extends { readonly name: string }>(r: YamlReader, f: Field | undefined, drivers: readonly D[]): D | undefined {
  const names = drivers.map((d) => d.name);
  const name = f ? r.oneOf(f, names, { def: names[0]! }) : names[0];
  return drivers.find((d) => d.name === name);
}

/** Every key of any driver (the section's allowed keys besides the shared ones). */
export function allPolicyKeys(drivers: readonly PolicyKeyOwner[]): string[] {
  return [...new Set(drivers.flatMap((d) => d.policyKeys))];
}

/**
 * A key of another driver set in a pool of `chosen`: an issue at its line saying whose key it is
 * and, when `chosen` says so, where to set it instead.
 */
export function refuseForeignKeys(r: YamlReader, section: Fields, role: string, chosen: PolicyKeyOwner, drivers: readonly PolicyKeyOwner[]): void {
  for (const key of allPolicyKeys(drivers)) {
    if (chosen.policyKeys.includes(key) || !section.has(key)) continue;
    const owners = drivers.filter((d) => d.policyKeys.includes(key));
    const instead = chosen.instead?.[key];
    const note = owners.length === 1 ? owners[0]!.keyNotes?.[key] : undefined;
    const whose = `is for ${role}.driver: ${owners.map((d) => d.name).join(' | ')}`;
    r.issue(section.get(key), instead !== undefined ? `${whose}; ${instead}` : note !== undefined ? `${whose} (${note})` : whose);
  }
}
