// Bodies of the write API: read (JSON object, at most 16 KiB), then checked field by field
// before anything reaches the controller. Every refusal is a 400 GH_BAD_REQUEST whose message
// starts with the field it is about and whose details name it ({ field }), so a client can
// point at what to fix. Unknown fields are refused too: a typo ("desird") must not be ignored.
import type { NextFunction, Request, Response } from 'express';
import { GridhostError } from '../errors/errors.ts';
import type { OperatorRequest } from '../controller/operator.ts';

export const MAX_BODY_BYTES = 16 * 1024;
const MAX_REASON = 500;
const MAX_BY = 100;
/** Printable text without control characters (they would garble log lines and terminals). */
const PRINTABLE = /^[^\p{Cc}\p{Cs}]*$/u;
export const GUEST_ID_RE = /^[a-z][a-z0-9-]{0,99}$/;

const bad = (field: string, message: string, found?: unknown): GridhostError =>
  new GridhostError('GH_BAD_REQUEST', `${field}: ${message}`, { field, ...(found !== undefined ? { found: typeof found === 'string' ? found.slice(0, 64) : found } : {}) });

/** Middleware: req.body becomes the parsed JSON object ({} for an empty body), at most `maxBytes`. */
export function jsonBody(maxBytes = MAX_BODY_BYTES) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes && !failed) {
        failed = true;
        next(new GridhostError('GH_BAD_REQUEST', `body: larger than ${maxBytes} bytes`, { field: 'body' }));
      }
      if (!failed) chunks.push(c);
    });
    req.on('error', (e) => { if (!failed) { failed = true; next(e); } });
    req.on('end', () => {
      if (failed) return;
      try {
        req.body = parseBody(Buffer.concat(chunks).toString('utf8'));
        next();
      } catch (e) {
        next(e);
      }
    });
  };
}

/** Pure: the body's text as a JSON object. */
export function parseBody(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw bad('body', `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('body', 'must be a JSON object, e.g. {"reason": "incident 42"}');
  return v as Record<string, unknown>;
}

function onlyFields(body: Record<string, unknown>, allowed: readonly string[], route: string): void {
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) throw new GridhostError('GH_BAD_REQUEST', `${k.slice(0, 64)}: unknown field (${route} takes ${allowed.join(', ')})`, { field: k.slice(0, 64), allowed: [...allowed] });
  }
}

function text(body: Record<string, unknown>, field: string, max: number): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(field, `must be a string of at most ${max} characters`, v);
  if (v.length > max) throw bad(field, `must be at most ${max} characters (found ${v.length})`);
  if (!PRINTABLE.test(v)) throw bad(field, 'must not contain control characters (newlines, tabs, escapes)');
  return v;
}

/** Who and why, for every write: `by` defaults to the client's address. */
export function operatorRequest(body: Record<string, unknown>, clientAddress: string): OperatorRequest {
  const by = text(body, 'by', MAX_BY);
  if (by !== undefined && by.trim() === '') throw bad('by', 'must not be empty when given');
  return { by: by ?? `api client ${clientAddress}`, reason: text(body, 'reason', MAX_REASON) ?? '' };
}

/** POST /pause, /resume, /breaker/reset, /guests/:guest/retire: { reason?, by? }. */
export function checkPlainWrite(body: Record<string, unknown>, route: string, clientAddress: string): OperatorRequest {
  onlyFields(body, ['reason', 'by'], route);
  return operatorRequest(body, clientAddress);
}

/** POST /scale: { desired, force?, reason?, by? }. The range is checked against the bounds in force by the controller. */
export function checkScale(body: Record<string, unknown>, route: string, clientAddress: string): { desired: number; force: boolean; req: OperatorRequest } {
  onlyFields(body, ['desired', 'force', 'reason', 'by'], route);
  const d = body.desired;
  if (d === undefined) throw bad('desired', 'is required: the number of guests to hold the pool at, e.g. {"desired": 4}');
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) throw bad('desired', 'must be a whole number of guests (0 or more)', d);
  const f = body.force;
  if (f !== undefined && typeof f !== 'boolean') throw bad('force', 'must be true or false', f);
  return { desired: d, force: f === true, req: operatorRequest(body, clientAddress) };
}

/** Pure: a guest id from the URL, or 400 naming it. */
export function checkGuestId(raw: unknown): string {
  const g = typeof raw === 'string' ? raw : '';
  if (!GUEST_ID_RE.test(g)) throw bad('guest', 'must be a guest id like web-3f2a9c1d (lower-case letters, digits and "-")', String(raw ?? '').slice(0, 64));
  return g;
}

/** Pure: ?since= / ?until= as epoch ms, or 400 naming the parameter. */
export function parseIsoParam(name: string, raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const ms = typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(ms)) throw bad(name, 'must be an ISO 8601 time, e.g. 2026-01-05T09:00:00Z', String(raw).slice(0, 64));
  return ms;
}
