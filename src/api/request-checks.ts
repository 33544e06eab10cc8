// What every route checks before it reads anything: its query parameters (known, each once),
// pool names, limits. Pure helpers plus the express middleware built on them; each rejects with
// GH_BAD_REQUEST naming what was wrong, so a typo is never silently ignored.
import type { NextFunction, Request, Response } from 'express';
import { GridhostError } from '../errors/errors.ts';
import { POOL_NAME_RE } from '../policy/parse-policy.ts';

/** The query string as express parsed it (node:querystring: repeated keys become arrays). */
export type RawQuery = Record<string, unknown>;

/** Pure: reject query parameters the route does not take, and any given more than once. */
export function checkQuery(query: RawQuery, allowed: readonly string[], route: string): void {
  const keys = Object.keys(query);
  const unknown = keys.filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    const takes = allowed.length === 0 ? 'takes no query parameters' : `takes: ${allowed.join(', ')}`;
    throw new GridhostError(
      'GH_BAD_REQUEST',
      `unknown query parameter${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => JSON.stringify(cut(k))).join(', ')} (${route} ${takes})`,
      { unknown: unknown.map((k) => cut(k)), allowed: [...allowed] },
    );
  }
  const repeated = keys.filter((k) => Array.isArray(query[k]));
  if (repeated.length > 0) {
    throw new GridhostError('GH_BAD_REQUEST', `query parameter ${repeated.map((k) => JSON.stringify(k)).join(', ')} given more than once`, { repeated });
  }
}

/** Middleware: `app.get(path, allowQuery(['pool', 'limit']), handler)`. */
export function allowQuery(allowed: readonly string[]) {
  return (req: Request, _res: Response, next: NextFunction) => {
    checkQuery(req.query as RawQuery, allowed, `${req.method} ${req.route?.path ?? req.path}`);
    next();
  };
}

/** Pure: a pool name as a policy may give it, or GH_BAD_REQUEST. */
export function checkPoolName(raw: unknown): string {
  const pool = typeof raw === 'string' ? raw : '';
  if (!POOL_NAME_RE.test(pool)) {
    throw new GridhostError('GH_BAD_REQUEST', `invalid pool name: must match ${POOL_NAME_RE.source}`, { found: cut(String(raw ?? '')) });
  }
  return pool;
}

/** Guest ids as gridhost makes them: `<pool>-<hex>`. */
export const GUEST_ID_RE = /^[a-z][a-z0-9-]{0,99}$/;

/** Pure: a guest id from the URL, or GH_BAD_REQUEST. */
export function checkGuestId(raw: unknown): string {
  const id = typeof raw === 'string' ? raw : '';
  if (!GUEST_ID_RE.test(id)) throw new GridhostError('GH_BAD_REQUEST', 'invalid guest id: must be like web-3f2a9c1d (lower-case letters, digits and "-")', { found: cut(String(raw ?? '')) });
  return id;
}

/** Pure: parse ?limit= (1..1000, default 100). */
export function parseLimit(raw: unknown): number {
  if (raw === undefined || raw === '') return 100;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new GridhostError('GH_BAD_REQUEST', 'limit must be an integer from 1 to 1000', { found: cut(String(raw)) });
  }
  return n;
}

/** What a client sent, cut to a length fit for an error message or a log line. */
export function cut(s: string, max = 64): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
