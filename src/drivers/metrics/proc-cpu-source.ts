// Per-guest CPU from /proc for local guests: CPU time of the guest's process group (its main
// process, the children it has reaped, and the members still running) as a delta between two
// samples over the wall time between them, in % of one CPU. Reports key `cpu` for guests of
// the local driver only.
import { execFileSync } from 'node:child_process';
import type { Guest, MetricValues } from '../../domain/types.ts';
import { listPids as listProcPids, metaInt, readProcStat as readProcStatFromProc, type ProcStat } from '../hypervisor/local/proc-stat.ts';
import type { MetricsSource } from './metrics-source.ts';

export interface ProcCpuSourceOptions {
  /** Wall clock in ms (injectable for tests). */
  now?: () => number;
  /** Reads /proc/<pid>/stat (injectable for tests); undefined when there is no such process. */
  readProcStat?: (pid: number) => Promise<ProcStat | undefined>;
  /** Pids scanned for other members of a guest's process group; `async () => []` counts only the main pid. */
  listPids?: () => Promise<number[]>;
  /** Kernel clock ticks per second (USER_HZ); default from `getconf CLK_TCK`, else 100. */
  clockTicks?: number;
}

interface Previous {
  pid: number;
  startTime: number;
  ticks: number;
  at: number;
}

/** Previous samples older than this are forgotten (guests that are no longer asked about). */
const FORGET_MS = 15 * 60_000;

export class ProcCpuSource implements MetricsSource {
  readonly name = 'proc-cpu';
  private readonly now: () => number;
  private readonly readStat: (pid: number) => Promise<ProcStat | undefined>;
  private readonly listPids: () => Promise<number[]>;
  private readonly hz: number;
  private readonly prev = new Map<string, Previous>();

  constructor(opts: ProcCpuSourceOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.readStat = opts.readProcStat ?? readProcStatFromProc;
    this.listPids = opts.listPids ?? listProcPids;
    this.hz = opts.clockTicks ?? clockTicks();
  }

  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    const out = new Map<string, MetricValues>();
    // Only local guests: another driver's meta.pid (if any) is not a process on this host.
    const leaders = guests.filter((g) => g.driver === 'local').map((g) => ({ g, pid: metaInt(g.meta.pid), startTime: metaInt(g.meta.startTime) }));
    const wanted = new Set(leaders.flatMap((l) => (l.pid === undefined ? [] : [l.pid])));
    const members = wanted.size > 0 ? await this.groupMembers(wanted) : new Map<number, number>();
    const at = this.now();

    for (const { g, pid, startTime } of leaders) {
      if (pid === undefined) continue;
      const s = await this.readStat(pid);
      if (!s || s.state === 'Z' || s.state === 'X' || (startTime !== undefined && s.startTime !== startTime)) {
        this.prev.delete(g.id); // not running (or the pid is someone else's now)
        continue;
      }
      const ticks = s.utime + s.stime + s.cutime + s.cstime + (s.pgrp === pid ? (members.get(pid) ?? 0) : 0);
      const before = this.prev.get(g.id);
      this.prev.set(g.id, { pid, startTime: s.startTime, ticks, at });
      // First sight of this process, or a group member exited unreaped by the guest: no rate.
      if (!before || before.pid !== pid || before.startTime !== s.startTime) continue;
      const dTicks = ticks - before.ticks;
      const dMs = at - before.at;
      if (dTicks < 0 || dMs <= 0) continue;
      out.set(g.id, { cpu: ((dTicks / this.hz) * 1000 * 100) / dMs });
    }
    for (const [id, p] of this.prev) if (at - p.at > FORGET_MS) this.prev.delete(id);
    return out;
  }

  async close(): Promise<void> {
    this.prev.clear();
  }

  /** Sum of CPU ticks of processes in the wanted groups, other than the group leaders themselves. */
  private async groupMembers(pgids: Set<number>): Promise<Map<number, number>> {
    const sums = new Map<number, number>();
    let pids: number[];
    try {
      pids = await this.listPids();
    } catch {
      return sums;
    }
    for (const pid of pids) {
      if (pgids.has(pid)) continue;
      const s = await this.readStat(pid);
      if (!s || !pgids.has(s.pgrp)) continue;
      sums.set(s.pgrp, (sums.get(s.pgrp) ?? 0) + s.utime + s.stime + s.cutime + s.cstime);
    }
    return sums;
  }
}

let cachedHz: number | undefined;
function clockTicks(): number {
  if (cachedHz === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
      cachedHz = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      cachedHz = 100;
    }
  }
  return cachedHz;
}
