// Store factory: the configured kind's driver (store-drivers.ts), opened and migrated/indexed,
// ready for the controller.
import type { StoreConfig } from '../config/config-types.ts';
import { GridhostError } from '../errors/errors.ts';
import type { Store } from './store.ts';
import { STORE_DRIVERS } from './store-drivers.ts';

/** Rejects only with GridhostError GH_STORE_FAILED (cannot open) — same contract as the stores. */
export async function openStore(cfg: StoreConfig): Promise<Store> {
  const d = STORE_DRIVERS.find((x) => x.keys.name === cfg.kind);
  if (!d) throw new GridhostError('GH_STORE_FAILED', `no store driver for kind ${String(cfg.kind)}`, { kind: cfg.kind });
  return d.open(cfg);
}
