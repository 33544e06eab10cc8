// `host:port` strings as written in policies (`balancer.listen`) and guest addresses.
// IPv6 hosts are bracketed: `[::1]:8080`.

export interface HostPort {
  host: string;
  port: number;
}

/** Parse `host:port`; undefined when malformed. `allowZero` accepts port 0 (ephemeral bind). */
export function parseHostPort(s: string, allowZero = false): HostPort | undefined {
  const colon = s.lastIndexOf(':');
  if (colon <= 0) return undefined;
  let host = s.slice(0, colon);
  const portText = s.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !allowZero)) return undefined;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) return undefined; // unbracketed IPv6 is ambiguous
  if (host === '' || /[\s/?#@]/.test(host)) return undefined;
  return { host, port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
