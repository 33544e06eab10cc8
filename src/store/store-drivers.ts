// The store drivers gridhost can open, one module per store: its keys (store-keys.ts) and its
// open(). open-store.ts opens the configured one; nothing else names a store kind.
import type { StoreConfig } from '../config/config-types.ts';
import type { Store } from './store.ts';
import type { StoreKeys } from './store-keys.ts';
import { mongodbDriver } from './mongo-store.ts';
import { sqliteDriver } from './sqlite-driver.ts';

export interface StoreDriver {
  readonly keys: StoreKeys;
  /** Opened, migrated or indexed. Rejects only with GridhostError GH_STORE_FAILED. */
  open(config: StoreConfig): Promise<Store>;
}

/** In the order of STORE_KEYS (the first is the default). */
export const STORE_DRIVERS: readonly StoreDriver[] = [sqliteDriver, mongodbDriver];
