// Bearer-token check for the write API. Constant-time compare; the token is never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { GridhostError } from '../errors/errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Pure: does the Authorization header carry the configured token? */
export function tokenMatches(header: string | undefined, token: string | undefined): boolean {
  if (!token || !header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  // Compare digests so lengths are equal and timing says nothing about the token.
  return timingSafeEqual(digest(m[1]!), digest(token));
}

export function requireToken(token: string | undefined) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!token) return next(new GridhostError('GH_UNAUTHORIZED', 'the write API is disabled: set api.token in gridhost.yaml or GRIDHOST_API_TOKEN'));
    if (!tokenMatches(req.get('authorization'), token)) return next(new GridhostError('GH_UNAUTHORIZED'));
    next();
  };
}

/** Tokens from examples, docs and habit: anyone trying the API would try these first. */
const WELL_KNOWN = new Set([
  'changeme', 'change-me', 'change_me', 'changethis', 'changeit', 'secret', 'mysecret', 'password', 'passw0rd', 'p@ssw0rd',
  'token', 'mytoken', 'apitoken', 'api-token', 'admin', 'administrator', 'root', 'gridhost', 'gridhost-token', 'test',
  'testing', 'test-token', 'default', 'example', 'sample', '<secret>', '<token>', 'your-token', 'your-token-here',
  'token-here', 'letmein', 'qwerty', 'qwertyuiop', '123456', '12345678', '123456789', '1234567890', 'abc123', 'none', 'null',
]);

/** Shortest token accepted: 12 characters (a short token is a guessable one). */
export const MIN_TOKEN_LENGTH = 12;

/**
 * Pure: why a configured write token must not be used (undefined: it may). The write API refuses
 * to start with an empty, well-known, short or one-character-repeated token.
 */
export function weakTokenReason(token: string): string | undefined {
  if (token.trim() === '') return 'is empty: unset it to keep the write API disabled, or set a secret (e.g. `openssl rand -hex 24`)';
  const t = token.toLowerCase();
  if (WELL_KNOWN.has(t) || WELL_KNOWN.has(t.replace(/[0-9]+$/, ''))) return 'is a well-known value that anyone would try: set a secret (e.g. `openssl rand -hex 24`)';
  if (token.length < MIN_TOKEN_LENGTH) return `is shorter than ${MIN_TOKEN_LENGTH} characters: set a longer secret (e.g. \`openssl rand -hex 24\`)`;
  if (new Set(token).size < 4) return 'has fewer than 4 distinct characters: set a secret (e.g. `openssl rand -hex 24`)';
  return undefined;
}
