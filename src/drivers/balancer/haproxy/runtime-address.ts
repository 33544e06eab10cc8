// Addresses and names as HAProxy's runtime API takes them: the stats socket as haproxy.cfg's
// `stats socket` line writes it, and proxy/server names. Pure, so the driver's keys
// (haproxy-config.ts) are checked without loading the socket code.
import { parseHostPort } from '../builtin/address.ts';

/** HAProxy proxy and server names: letters, digits, "-", "_", ".", ":" (and nothing the CLI splits on). */
export const HAPROXY_NAME_RE = /^[A-Za-z0-9_.:-]{1,127}$/;

export type SocketAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/**
 * As haproxy.cfg's `stats socket` writes it: `/run/haproxy/admin.sock` (or `unix@/...`),
 * `127.0.0.1:9999`, `ipv4@127.0.0.1:9999`, `ipv6@[::1]:9999`. Undefined when it is neither.
 */
export function parseSocketAddress(s: string): SocketAddress | undefined {
  const v = s.trim();
  if (v.startsWith('unix@')) return v.length > 5 && v[5] === '/' ? { kind: 'unix', path: v.slice(5) } : undefined;
  if (v.startsWith('/')) return v.includes('\0') ? undefined : { kind: 'unix', path: v };
  const hp = parseHostPort(v.replace(/^ipv[46]@/, ''));
  return hp ? { kind: 'tcp', host: hp.host, port: hp.port } : undefined;
}

export function formatSocketAddress(a: SocketAddress): string {
  return a.kind === 'unix' ? a.path : a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
