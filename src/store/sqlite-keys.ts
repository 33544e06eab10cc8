// The SQLite store's keys: `store.path` (default <data_dir>/gridhost.db) or GRIDHOST_SQLITE_PATH.
// Pure (the registry in store-keys.ts lists it).
import path from 'node:path';
import type { StoreKeys } from './store-keys.ts';

// GridhostConfig.store for `kind: sqlite`.
declare module '../config/config-types.ts' {
  interface StoreSettings {
    /** The database file; default <data_dir>/gridhost.db. */
    sqlite: { path: string };
  }
}

export const sqliteKeys: StoreKeys<'sqlite'> = {
  name: 'sqlite',
  keys: ['path'],
  inDataDir: true,
  env: { name: 'GRIDHOST_SQLITE_PATH', key: 'path', parse: (v) => ({ path: v }) },
  parse(r, store) {
    const p = r.str(store.get('path'));
    if (p === '') {
      r.issue(store.get('path'), 'must be a non-empty path');
      return undefined;
    }
    return p === undefined ? {} : { path: p };
  },
  finish: (set, ctx) => ({ kind: 'sqlite', path: set.path !== undefined ? ctx.resolvePath(set.path) : path.join(ctx.dataDir, 'gridhost.db') }),
};
