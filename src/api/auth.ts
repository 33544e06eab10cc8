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
