// Passwords in URIs, hidden before a config is logged (store and Prometheus URIs). Pure.

/** Hide the password in `scheme://user:password@host...`. */
export function redactUri(uri: string): string {
  return uri.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}
