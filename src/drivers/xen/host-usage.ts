// What each dom0's CPUs and memory are doing (policy contention): `xentop -b -f -d 1 -i 2` summed
// over every domain (Domain-0 included: its CPU is the host's too) against `xl info`'s nr_cpus,
// and xl info's free_memory. One measurement per dom0 serves every pool for `ttlMs` (each pool
// asks every tick) and callers asking meanwhile share the one in flight. The xentop run itself is
// XentopRuns', shared with the guests' CPU samples of the same tick (XentopSource).
import type { HostSample } from '../../domain/types.ts';
import { isGridhostError } from '../../errors/errors.ts';
import type { XenHosts } from './xen-hosts.ts';
import { XentopRuns } from './xentop-runs.ts';
import { parseXentop, parseXlInfo, type XentopRow } from './xl-parse.ts';

export interface HostUsageOptions {
  hosts: XenHosts;
  xlPath: string;
  xentopPath: string;
  /** The xentop runs shared with XentopSource (create-xen-drivers.ts); default: its own. */
  xentop?: XentopRuns;
  timeoutMs?: number;
  /** How long one measurement of a dom0 is reused (default 3 s: under one sampling interval). */
  ttlMs?: number;
  /** A down dom0 is tried again at most this often (default 30 s, as XentopSource): a tick must
   *  not wait out an SSH connect timeout every time. */
  retryDownMs?: number;
  now?: () => number;
}

/** CPU use of all domains, 0-1 of the host's CPUs (xentop's CPU% is per physical CPU). */
export function hostCpuRatio(rows: ReadonlyMap<string, XentopRow>, nrCpus: number): number {
  let sum = 0;
  for (const r of rows.values()) sum += r.cpuPercent;
  return nrCpus > 0 ? sum / (100 * nrCpus) : 0;
}

export class HostUsage {
  private readonly o: Required<Omit<HostUsageOptions, 'xentop'>>;
  private readonly xentop: XentopRuns;
  private readonly cache = new Map<string, { at: number; facts: Promise<HostSample | undefined>; down?: boolean }>();

  constructor(opts: HostUsageOptions) {
    const { xentop, ...rest } = opts;
    this.o = { timeoutMs: 15_000, ttlMs: 3_000, retryDownMs: 30_000, now: Date.now, ...rest };
    this.xentop = xentop ?? new XentopRuns({ hosts: this.o.hosts, xentopPath: this.o.xentopPath, timeoutMs: this.o.timeoutMs, now: this.o.now });
  }

  /** Every dom0 that answers, in configuration order. */
  async facts(): Promise<HostSample[]> {
    const all = await Promise.all(this.o.hosts.names().map((h) => this.of(h)));
    return all.filter((f): f is HostSample => f !== undefined);
  }

  /** One dom0's facts (undefined: it is down). */
  of(host: string): Promise<HostSample | undefined> {
    const now = this.o.now();
    const hit = this.cache.get(host);
    if (hit && now - hit.at < (hit.down ? this.o.retryDownMs : this.o.ttlMs)) return hit.facts;
    const entry: { at: number; facts: Promise<HostSample | undefined>; down?: boolean } = { at: now, facts: Promise.resolve(undefined) };
    entry.facts = this.measure(host).then((f) => {
      if (f === undefined) entry.down = true;
      return f;
    });
    this.cache.set(host, entry);
    return entry.facts;
  }

  private async measure(host: string): Promise<HostSample | undefined> {
    const exec = (argv: string[]) => this.o.hosts.exec(host, argv, { timeoutMs: this.o.timeoutMs }).then((r) => (r.code === 0 ? r.stdout : undefined));
    // Each command on its own: a failing xentop still leaves the free memory, and the reverse.
    const soft = <T>(p: Promise<T>): Promise<T | undefined | 'down'> => p.catch((e: unknown) => {
      if (isGridhostError(e) && (e.code === 'GH_HOST_UNREACHABLE' || e.code === 'GH_HOST_KEY_MISMATCH')) return 'down' as const;
      return undefined;
    });
    const [info, top] = await Promise.all([
      soft(exec([this.o.xlPath, 'info']).then((t) => (t === undefined ? undefined : parseXlInfo(t)))),
      soft(this.xentop.run(host).then((r) => (r.code === 0 ? parseXentop(r.stdout) : undefined))),
    ]);
    if (info === 'down' || top === 'down') return undefined;
    const out: HostSample = { host };
    if (info !== undefined) out.freeMemoryMb = info.freeMemoryMb;
    if (info !== undefined && top !== undefined) out.cpuRatio = hostCpuRatio(top, info.nrCpus);
    return out;
  }
}
