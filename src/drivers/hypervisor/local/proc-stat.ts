// /proc/<pid>/stat reader: liveness with pid-reuse detection (start time) and CPU ticks.
import { readdir, readFile } from 'node:fs/promises';

export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), T, ... */
  state: string;
  ppid: number;
  pgrp: number;
  /** CPU time in clock ticks (user, system, and of waited-for children). */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** Start time in clock ticks after boot (field 22): with the pid, identifies a process. */
  startTime: number;
}

/** A pid or start time as kept in a guest's meta (decimal digits only); undefined otherwise. */
export function metaInt(s: string | undefined): number | undefined {
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;
}

/** Parses the text of /proc/<pid>/stat; undefined when malformed. */
export function parseProcStat(text: string): ProcStat | undefined {
  // Field 2 (comm) is parenthesised and may contain spaces and ')': split after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf('(')).trim());
  const f = text.slice(close + 1).trim().split(/\s+/);
  // f[0] is field 3; field n is f[n - 3].
  const num = (n: number): number => Number(f[n - 3]);
  const stat: ProcStat = {
    pid,
    state: f[0] ?? '',
    ppid: num(4),
    pgrp: num(5),
    utime: num(14),
    stime: num(15),
    cutime: num(16),
    cstime: num(17),
    startTime: num(22),
  };
  const nums = [stat.pid, stat.ppid, stat.pgrp, stat.utime, stat.stime, stat.cutime, stat.cstime, stat.startTime];
  return nums.every(Number.isFinite) && stat.state !== '' ? stat : undefined;
}

/** Reads /proc/<pid>/stat; undefined when there is no such process. */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Pids of every process visible in /proc. */
export async function listPids(): Promise<number[]> {
  const names = await readdir('/proc');
  return names.filter((n) => /^\d+$/.test(n)).map(Number);
}

/** True when `stat` is a live (not zombie/dead) process started at `startTime` (when given). */
export function isSameLiveProcess(stat: ProcStat | undefined, startTime?: number): boolean {
  if (!stat || stat.state === 'Z' || stat.state === 'X' || stat.state === 'x') return false;
  return startTime === undefined || stat.startTime === startTime;
}

/** True when any live process is in process group `pgid`. */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    // EPERM: members exist but are not ours; still alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // kill(0) also succeeds for zombies: look for a member that is not one.
  for (const pid of await listPids()) {
    const s = await readProcStat(pid);
    if (s && s.pgrp === pgid && isSameLiveProcess(s)) return true;
  }
  return false;
}
