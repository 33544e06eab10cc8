// Which TCP port a local guest listens on, read from /proc. The driver hands a guest {{port}} = 0:
// the guest binds a port of the kernel's choosing, so no number is ever handed out unbound for
// another process to take first (a bound-and-released port could be given to two guests, or to
// any other process, before the guest binds it). A listening socket found among the open files
// of the guest's process group is proof that the port is the guest's own.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { listPids, readProcStat } from './proc-stat.ts';

export interface ListeningSocket {
  inode: number;
  /** Dotted IPv4, `::`, `::ffff:a.b.c.d`, or the 32 hex digits of another IPv6 address. */
  address: string;
  port: number;
}

const LISTEN = '0A';

/** The sockets in LISTEN state in the text of /proc/net/tcp or /proc/net/tcp6. */
export function parseProcNetTcp(text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (f.length < 10 || f[3] !== LISTEN) continue;
    const [hex, portHex] = (f[1] ?? '').split(':');
    const inode = Number(f[9]);
    if (!hex || !portHex || !Number.isInteger(inode) || inode <= 0) continue;
    out.push({ inode, address: kernelAddress(hex), port: parseInt(portHex, 16) });
  }
  return out;
}

/** The kernel prints an address as 32-bit words in host (little-endian) byte order. */
function kernelAddress(hex: string): string {
  const word = (w: string): number[] => [6, 4, 2, 0].map((i) => parseInt(w.slice(i, i + 2), 16));
  if (hex.length === 8) return word(hex).join('.');
  const up = hex.toUpperCase();
  if (/^0{32}$/.test(up)) return '::';
  if (up.startsWith('0000000000000000FFFF0000')) return `::ffff:${word(up.slice(24)).join('.')}`;
  return up;
}

/** Whether a connection to `host` (an IPv4 address) reaches a socket listening at `address`. */
export function reachableAt(address: string, host: string): boolean {
  return address === host || address === '0.0.0.0' || address === '::' || address === `::ffff:${host}`;
}

/** Every socket listening where a connection to `host` reaches. */
export async function listeningAt(host: string): Promise<ListeningSocket[]> {
  const out: ListeningSocket[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(f, 'utf8').catch(() => ''); // tcp6 is absent without IPv6
    out.push(...parseProcNetTcp(text).filter((s) => reachableAt(s.address, host)));
  }
  return out;
}

/** Inodes of the sockets among a process's open files (none when it is gone or not ours). */
async function socketInodes(pid: number): Promise<Set<number>> {
  const out = new Set<number>();
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** Live members of process group `pgid` other than its leader. */
async function groupMembers(pgid: number): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await listPids()) {
    if (pid === pgid) continue;
    const s = await readProcStat(pid);
    if (s && s.pgrp === pgid && s.state !== 'Z') out.push(pid);
  }
  return out;
}

/** Which of `sockets` the process group `pgid` holds: its leader's first, else its other members'. */
export async function heldByGroup(pgid: number, sockets: readonly ListeningSocket[]): Promise<ListeningSocket[]> {
  if (sockets.length === 0) return [];
  const pick = (inodes: Set<number>): ListeningSocket[] => sockets.filter((s) => inodes.has(s.inode));
  const leader = pick(await socketInodes(pgid));
  if (leader.length > 0) return leader;
  for (const pid of await groupMembers(pgid)) {
    const mine = pick(await socketInodes(pid));
    if (mine.length > 0) return mine;
  }
  return [];
}

/** The ports process group `pgid` listens on where `host` reaches, ascending. */
export async function groupPorts(pgid: number, host: string): Promise<number[]> {
  return uniquePorts(await heldByGroup(pgid, await listeningAt(host)));
}

export function uniquePorts(sockets: readonly ListeningSocket[]): number[] {
  return [...new Set(sockets.map((s) => s.port))].sort((a, b) => a - b);
}

/** The process holding the socket that listens at host:port (for an error message), when visible. */
export async function holderOf(host: string, port: number): Promise<{ pid: number; comm: string } | undefined> {
  const inodes = new Set((await listeningAt(host)).filter((s) => s.port === port).map((s) => s.inode));
  if (inodes.size === 0) return undefined;
  for (const pid of await listPids()) {
    for (const i of await socketInodes(pid)) {
      if (inodes.has(i)) return { pid, comm: (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim() };
    }
  }
  return undefined;
}

const PORT_POLL_MS = 25;

/** Waits until process group `pgid` listens where `host` reaches: its port, or why not (it
 *  ended, time ran out, or it opened several ports at once and which one serves is unclear). */
export async function waitForPort(pgid: number, host: string, o: { deadline: number; ended: () => string | undefined }): Promise<{ port: number } | { why: 'ended' | 'timeout' } | { why: 'several'; ports: number[] }> {
  const seen = new Set<number>();
  for (;;) {
    if (o.ended() !== undefined) return { why: 'ended' };
    // Only sockets new since the last look can be the guest's: the group is looked at only then.
    const fresh = (await listeningAt(host)).filter((s) => !seen.has(s.inode));
    for (const s of fresh) seen.add(s.inode);
    const ports = uniquePorts(await heldByGroup(pgid, fresh));
    if (ports.length > 1) return { why: 'several', ports };
    if (ports.length === 1) return { port: ports[0]! };
    if (Date.now() >= o.deadline) return { why: 'timeout' };
    await new Promise((r) => setTimeout(r, PORT_POLL_MS));
  }
}
