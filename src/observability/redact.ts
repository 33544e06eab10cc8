// Secret removal for anything that leaves the process as text: log lines, error messages
// built from URIs. Pure functions; the winston format in logger.ts is a thin wrapper.

export const REDACTED = '[REDACTED]';

/** Field names whose values are never shown: compared case-insensitively, ignoring `-` and `_`,
 *  and also as a suffix so `apiToken`, `client_secret`, `db-password` are caught too. */
const SECRET_FIELDS = ['token', 'password', 'secret', 'authorization', 'privatekey', 'passphrase'];

export function isSecretField(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_]/g, '');
  return SECRET_FIELDS.some((s) => n.endsWith(s));
}

// scheme://user:password@host -> scheme://user:***@host (mongodb://, mongodb+srv://, http://, ...)
const URI_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:@/\s]*:)[^@/\s]+@/gi;
// "Authorization: Bearer abc" or "bearer abc" inside free text.
const BEARER = /\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi;

/** Mask passwords inside URIs and bearer tokens in a string. */
export function redactString(s: string): string {
  return s.replace(URI_PASSWORD, '$1***@').replace(BEARER, '$1***');
}

/**
 * Deep copy of `v` with secret fields replaced by [REDACTED] and secrets in strings masked.
 * Never mutates `v`. Errors become plain objects (name, message, code, details, stack) so they
 * serialise; cycles become "[Circular]".
 */
export function redact(v: unknown): unknown {
  return walk(v, new WeakSet());
}

function walk(v: unknown, seen: WeakSet<object>): unknown {
  if (typeof v === 'string') return redactString(v);
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return v;
  if (seen.has(v)) return '[Circular]';
  seen.add(v);
  try {
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map((x) => walk(x, seen));
    const src: Record<string, unknown> =
      v instanceof Error ? errorFields(v) : v instanceof Map ? Object.fromEntries(v) : (v as Record<string, unknown>);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(src)) {
      if (x === undefined) continue;
      out[k] = isSecretField(k) ? REDACTED : walk(x, seen);
    }
    return out;
  } finally {
    seen.delete(v);
  }
}

function errorFields(e: Error): Record<string, unknown> {
  const o: Record<string, unknown> = { name: e.name, message: e.message };
  const extra = e as Error & { code?: unknown; details?: unknown };
  if (extra.code !== undefined) o.code = extra.code;
  if (extra.details !== undefined) o.details = extra.details;
  if (e.stack) o.stack = e.stack;
  if (e.cause !== undefined) o.cause = e.cause;
  return o;
}
