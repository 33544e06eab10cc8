// The store drivers' keys, one module per store: which `store.kind:` values exist, the keys of
// `store:` each reads, its environment variable, its defaults and what of it is secret. The config
// loader asks this list instead of naming stores; a new store is one line here and one in
// store-drivers.ts. Pure: no store implementation (better-sqlite3, mongoose) is imported.
import type { StoreConfig, StoreSettings } from '../config/config-types.ts';
import type { Fields, YamlReader } from '../policy/yaml-reader.ts';
import { mongodbKeys } from './mongo-keys.ts';
import { sqliteKeys } from './sqlite-keys.ts';

export interface StoreKeys<K extends keyof StoreSettings = keyof StoreSettings> {
  /** Its `store.kind`. */
  readonly name: K;
  /** Keys of `store:` it reads besides `kind`. */
  readonly keys: readonly string[];
  /** Of `keys`, those whose values are secret: a problem with one never repeats its value. */
  readonly secretKeys?: readonly string[];
  /** Decode -> validate its keys of `store:` (issues at their lines); undefined after an issue. */
  parse(r: YamlReader, store: Fields): Partial<StoreSettings[K]> | undefined;
  /** Its environment variable: set, it chooses this kind with the value as `key`. */
  readonly env?: { name: string; key: string; parse(v: string): Partial<StoreSettings[K]> | { issue: string } };
  /** Its settings live in the data folder: GRIDHOST_DATA_DIR moves them (drops what the file said). */
  readonly inDataDir?: boolean;
  /** Defaults applied, paths resolved: the canonical store config. */
  finish(set: Partial<StoreSettings[K]>, ctx: { dataDir: string; resolvePath(p: string): string }): StoreConfig;
  /** A copy safe to log. */
  redact?(c: StoreConfig): StoreConfig;
}

/** The first is the default (`store.kind` left out). */
export const STORE_KEYS: readonly StoreKeys[] = [sqliteKeys, mongodbKeys];
