// `{{pool}}` in a rule's PromQL query, substituted safely: the pool's name goes in as the body
// of a PromQL string literal (backslash and both quote kinds escaped), so whatever a query
// author wraps it in ("..." or '...'), the name can never end the literal early. Pool names are
// already restricted ([a-z][a-z0-9-]*); the escaping keeps this true if that ever widens.

/** Placeholders a query may use. */
export const QUERY_PLACEHOLDERS = ['pool'] as const;

/** The placeholders in `query` that are not known ({{x}} with x not in QUERY_PLACEHOLDERS). */
export function unknownPlaceholders(query: string): string[] {
  const out: string[] = [];
  for (const m of query.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (!(QUERY_PLACEHOLDERS as readonly string[]).includes(m[1]!)) out.push(m[0]);
  }
  return out;
}

/** Escape `s` for use inside a PromQL string literal. */
export function promqlStringBody(s: string): string {
  return s.replace(/[\\"'`]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
}

/** The query with `{{pool}}` replaced by the escaped pool name. */
export function renderQuery(query: string, pool: string): string {
  return query.replace(/\{\{\s*pool\s*\}\}/g, () => promqlStringBody(pool));
}
