// Store factory: the configured kind, opened and migrated/indexed, ready for the controller.
import type { GridhostConfig } from '../config/config-types.ts';
import type { Store } from './store.ts';
import { openMongoStore } from './mongo-store.ts';
import { openSqliteStore } from './sqlite-store.ts';

/** Rejects only with GridhostError GH_STORE_FAILED (cannot open) — same contract as the stores. */
export async function openStore(cfg: GridhostConfig['store']): Promise<Store> {
  switch (cfg.kind) {
    case 'sqlite':
      return openSqliteStore(cfg.path);
    case 'mongodb':
      return openMongoStore(cfg.uri);
  }
}
