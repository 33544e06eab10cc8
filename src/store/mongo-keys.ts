// The MongoDB store's keys: `store.uri` (required; its password is never logged or repeated in
// an issue) or GRIDHOST_MONGODB_URI. Pure (the registry in store-keys.ts lists it).
import { redactUri } from '../config/redact-uri.ts';
import { GridhostError } from '../errors/errors.ts';
import type { StoreKeys } from './store-keys.ts';

// GridhostConfig.store for `kind: mongodb`.
declare module '../config/config-types.ts' {
  interface StoreSettings {
    /** mongodb:// or mongodb+srv:// URI; its password never reaches a log. */
    mongodb: { uri: string };
  }
}

const MONGO_RE = /^mongodb(\+srv)?:\/\/\S+$/;
const BAD_URI = 'must be a mongodb:// or mongodb+srv:// URI';

export const mongodbKeys: StoreKeys<'mongodb'> = {
  name: 'mongodb',
  keys: ['uri'],
  secretKeys: ['uri'],
  env: { name: 'GRIDHOST_MONGODB_URI', key: 'uri', parse: (v) => (MONGO_RE.test(v) ? { uri: v } : { issue: BAD_URI }) },
  parse(r, store) {
    const uf = store.get('uri');
    if (uf.value === undefined) {
      r.issue(uf, 'is required for kind: mongodb (mongodb://user:password@host/db)');
      return undefined;
    }
    const u = r.str(uf);
    if (u === undefined) return undefined;
    if (!MONGO_RE.test(u)) {
      r.secretIssue(uf, BAD_URI);
      return undefined;
    }
    return { uri: u };
  },
  finish: (set) => {
    // Unreachable after a clean parse (uri is required there and in the environment).
    if (set.uri === undefined) throw new GridhostError('GH_CONFIG_INVALID', 'store.uri is required for kind: mongodb (mongodb://user:password@host/db)');
    return { kind: 'mongodb', uri: set.uri };
  },
  redact: (c) => (c.kind === 'mongodb' ? { ...c, uri: redactUri(c.uri) } : c),
};
