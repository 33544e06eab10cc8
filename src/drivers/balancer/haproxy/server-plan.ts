// Pure: which HAProxy servers are gridhost's, and what the backend lacks compared with what
// gridhost registered. gridhost owns exactly the servers named `<prefix><guest id>` (guest ids
// are `<pool>-<random>`); every other server of the backend is the operator's and is never
// touched.
import type { ServerState } from './runtime-replies.ts';

export interface WantedServer {
  address: string;
  admin: 'ready' | 'drain';
}

export function serverName(prefix: string, id: string): string {
  return `${prefix}${id}`;
}

/** The guest id of a gridhost server name, or undefined for a server that is not gridhost's. */
export function guestIdOf(prefix: string, name: string): string | undefined {
  return name.startsWith(prefix) && name.length > prefix.length ? name.slice(prefix.length) : undefined;
}

/** `host:port` of a servers-state row, as gridhost writes guest addresses (IPv6 bracketed). */
export function rowAddress(row: Pick<ServerState, 'addr' | 'port'>): string {
  return row.addr.includes(':') ? `[${row.addr}]:${row.port}` : `${row.addr}:${row.port}`;
}

export interface ServerPlan {
  /** Registered by gridhost, absent from HAProxy (a reload or restart dropped them): add again. */
  missing: string[];
  /** Carry gridhost's prefix but cannot be one of this pool's guests: gridhost did not create them. */
  foreign: string[];
  /** Registered by gridhost, present under its name but at another address: not gridhost's entry. */
  mismatched: Array<{ id: string; found: string; wanted: string }>;
}

/**
 * Compare the backend's servers with what gridhost registered for `pool`. A server with the
 * prefix that is not `<prefix><pool>-...` (another pool's guest, or a name chosen in
 * haproxy.cfg) is foreign: the pool's backend is shared or the prefix is used by hand.
 */
export function planServers(pool: string, prefix: string, wanted: ReadonlyMap<string, WantedServer>, rows: readonly ServerState[]): ServerPlan {
  const present = new Map<string, ServerState>();
  const foreign: string[] = [];
  for (const r of rows) {
    const id = guestIdOf(prefix, r.name);
    if (id === undefined) continue;
    if (!id.startsWith(`${pool}-`)) foreign.push(r.name);
    else present.set(id, r);
  }
  const missing: string[] = [];
  const mismatched: ServerPlan['mismatched'] = [];
  for (const [id, w] of wanted) {
    const row = present.get(id);
    if (row === undefined) missing.push(id);
    else if (rowAddress(row) !== w.address) mismatched.push({ id, found: rowAddress(row), wanted: w.address });
  }
  return { missing: missing.sort(), foreign: foreign.sort(), mismatched };
}
