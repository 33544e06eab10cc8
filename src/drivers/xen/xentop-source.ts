// Guest CPU from xentop on each dom0: one `xentop -b -f -d 1 -i 2` per dom0 per tick (the second
// iteration carries the CPU% over the 1 s between them; -f keeps names longer than 10 chars),
// the same run as the tick's host CPU use (HostUsage) when they share XentopRuns.
// Values per guest: cpu (% of one physical CPU, as the policy's `cpu` metric), memory_mb, vcpus.
import type { Guest, MetricValues } from '../../domain/types.ts';
import { GridhostError, isGridhostError } from '../../errors/errors.ts';
import type { MetricsSource } from '../metrics/metrics-source.ts';
import type { XenHosts } from './xen-hosts.ts';
import { XentopRuns } from './xentop-runs.ts';
import { parseXentop } from './xl-parse.ts';

export interface XentopSourceOptions {
  hosts: XenHosts;
  xentopPath?: string;
  /** Must match XenHypervisor's namePrefix. */
  namePrefix?: string;
  timeoutMs?: number;
  /** A down dom0 is retried at most this often (it is skipped meanwhile). */
  retryDownMs?: number;
  now?: () => number;
  /** The xentop runs shared with HostUsage (create-xen-drivers.ts); default: its own. */
  runs?: XentopRuns;
}

export class XentopSource implements MetricsSource {
  readonly name = 'xentop';
  private readonly o: Required<Omit<XentopSourceOptions, 'hosts' | 'runs'>>;
  private readonly hosts: XenHosts;
  private readonly runs: XentopRuns;
  private readonly lastTry = new Map<string, number>();

  constructor(opts: XentopSourceOptions) {
    this.hosts = opts.hosts;
    this.o = {
      xentopPath: opts.xentopPath ?? '/usr/lib/xen-4.17/bin/xentop',
      namePrefix: opts.namePrefix ?? 'gh-',
      timeoutMs: opts.timeoutMs ?? 15_000,
      retryDownMs: opts.retryDownMs ?? 30_000,
      now: opts.now ?? Date.now,
    };
    this.runs = opts.runs ?? new XentopRuns({ hosts: this.hosts, xentopPath: this.o.xentopPath, timeoutMs: this.o.timeoutMs, now: this.o.now });
  }

  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    const byHost = new Map<string, Guest[]>();
    for (const g of guests) {
      const host = g.meta['host'] ?? g.host;
      if (!this.hosts.names().includes(host)) continue;
      byHost.set(host, [...(byHost.get(host) ?? []), g]);
    }
    const out = new Map<string, MetricValues>();
    let answered = 0;
    let skipped = 0;
    await Promise.all(
      [...byHost].map(async ([host, list]) => {
        const now = this.o.now();
        if (!this.hosts.isUp(host) && now - (this.lastTry.get(host) ?? 0) < this.o.retryDownMs) {
          skipped++;
          return;
        }
        this.lastTry.set(host, now);
        try {
          const r = await this.runs.run(host);
          if (r.code !== 0) return; // answered, but nothing measurable this tick
          answered++;
          const rows = parseXentop(r.stdout);
          for (const g of list) {
            const row = rows.get(g.meta['domain'] ?? `${this.o.namePrefix}${g.id}`);
            if (row) out.set(g.id, { cpu: row.cpuPercent, memory_mb: row.memoryKb / 1024, vcpus: row.vcpus });
          }
        } catch (e) {
          if (!isGridhostError(e)) throw e;
          if (e.code === 'GH_COMMAND_TIMEOUT' || e.code === 'GH_COMMAND_FAILED') answered++;
          // unreachable: XenHosts marked the host down; its guests are simply absent
        }
      }),
    );
    if (byHost.size > 0 && answered === 0 && out.size === 0) {
      throw new GridhostError('GH_HOST_UNREACHABLE', `xentop: no dom0 answered (${byHost.size - skipped} tried, ${skipped} skipped as down)`, {
        hosts: [...byHost.keys()],
      });
    }
    return out;
  }

  async close(): Promise<void> {
    // The SSH connections belong to XenHosts (shared with the hypervisor driver).
  }
}
