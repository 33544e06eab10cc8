// Choosing a dom0 for a new guest (placement.ts decides from each host's load) and reserving the
// guest's memory there until its domain exists. Memory placed but not yet in a domain is
// reserved on dom0 too (`<id>.reserve` in cfgDir, from placement until xl create ends), so
// gridhost processes leading other pools on the same dom0 count it; the window left is one SSH
// round trip between one's `xl info` and another's write.
import type { DriverFence } from '../hypervisor/hypervisor.ts';
import { GridhostError, isGridhostError } from '../../errors/errors.ts';
import type { Dom0Commands } from './dom0-commands.ts';
import type { HostUsage } from './host-usage.ts';
import { placeOnOpenHost, type HostLoad } from './placement.ts';
import type { XenDriverSettings } from './xen-hypervisor-options.ts';
import { parseXlInfo, type XlDomain } from './xl-parse.ts';

export class PlaceAndReserve {
  /** Memory promised to guests cloned but not yet visible in `xl list` (guest id -> host, MiB). */
  private readonly reserved = new Map<string, { host: string; mb: number }>();
  private placing: Promise<unknown> = Promise.resolve();
  /** Domains listed by placement, reused by the clone that follows (saves one `xl list -l`). */
  private readonly placedWith = new Map<string, XlDomain[]>();

  constructor(
    private readonly cmd: Dom0Commands,
    private readonly usage: HostUsage,
    private readonly o: XenDriverSettings,
  ) {}

  /** Pick a host by free memory and pool spread, and reserve the memory before anyone else picks. */
  place(id: string, pool: string, needMb: number, fence: DriverFence | undefined, closed: ReadonlySet<string>, saturatedAt?: number): Promise<string> {
    const run = this.placing.then(async () => {
      const listed = new Map<string, XlDomain[]>();
      const loads = await Promise.all(this.cmd.hosts.names().map(async (h) => {
        const [load, usage] = await Promise.all([this.hostLoad(h, pool, listed), saturatedAt === undefined ? undefined : this.usage.of(h)]);
        return usage?.cpuRatio === undefined ? load : { ...load, cpuRatio: usage.cpuRatio };
      }));
      if (!loads.some((l) => l.up)) {
        // Every dom0 refused for its host key: say so (an operator must check the keys, not the network).
        const states = this.cmd.hosts.states();
        const code = states.length > 0 && states.every((s) => s.code === 'GH_HOST_KEY_MISMATCH') ? 'GH_HOST_KEY_MISMATCH' : 'GH_HOST_UNREACHABLE';
        // Each host's own reason: its connection's error, else what its placement query met
        // (a dom0 that answers SSH but whose xl info timed out is not "down").
        const why = (name: string, error?: string): string => (error ?? loads.find((l) => l.name === name)?.error ?? 'down').replace(`${name}: `, '');
        throw new GridhostError(code, `no dom0 answers: ${states.map((s) => `${s.name}: ${why(s.name, s.error)}`).join('; ')}`);
      }
      const host = placeOnOpenHost(loads, needMb, closed, saturatedAt);
      // On dom0 too, for the other gridhost processes placing there (see dom0Reservations).
      await this.cmd.run(host, ['sh', '-c', 'mkdir -p "$1" && printf "%s\\n" "$2" > "$1/$3.reserve"', 'sh', this.o.cfgDir, `${id} ${pool} ${needMb}`, id], 'GH_CLONE_FAILED', { fence });
      this.reserved.set(id, { host, mb: needMb });
      const domains = listed.get(host);
      if (domains) this.placedWith.set(id, domains);
      return host;
    });
    this.placing = run.catch(() => undefined);
    return run;
  }

  /** The domains placement listed on the guest's host, once (undefined: list them afresh). */
  takeListed(id: string): XlDomain[] | undefined {
    const domains = this.placedWith.get(id);
    this.placedWith.delete(id);
    return domains;
  }

  /** Stop counting the guest's reservation here (its domain exists, or it never will). */
  forget(id: string): void {
    this.reserved.delete(id);
  }

  /** Drop a reservation place() made, here and on dom0 (best effort: the caller is failing or done). */
  async unreserve(id: string, host: string, fence: DriverFence | undefined): Promise<void> {
    this.reserved.delete(id);
    this.placedWith.delete(id);
    await this.cmd.bestEffort(host, ['rm', '-f', '--', this.reservationPath(id)], fence);
  }

  /** The guest's memory reservation on its dom0, from placement until its domain exists. */
  reservationPath(id: string): string {
    return `${this.o.cfgDir}/${id}.reserve`;
  }

  private async hostLoad(host: string, pool: string, listed: Map<string, XlDomain[]>): Promise<HostLoad> {
    try {
      const [info, domains, onDom0] = await Promise.all([
        this.cmd.run(host, [this.o.xlPath, 'info'], 'GH_CLONE_FAILED').then((r) => parseXlInfo(r.stdout)),
        this.cmd.listDomains(host),
        this.dom0Reservations(host),
      ]);
      listed.set(host, domains);
      const names = new Set(domains.map((d) => d.name));
      let free = info.freeMemoryMb;
      let ofPool = domains.filter((d) => d.name.startsWith(`${this.o.namePrefix}${pool}-`)).length;
      for (const [gid, r] of this.reserved) {
        if (r.host !== host || names.has(this.cmd.domainName(gid))) continue;
        free -= r.mb;
        if (gid.startsWith(`${pool}-`)) ofPool++;
      }
      // Another process's guests between placement and xl create (ours are counted above).
      for (const r of onDom0) {
        if (this.reserved.has(r.id) || names.has(this.cmd.domainName(r.id))) continue;
        free -= r.mb;
        if (r.pool === pool) ofPool++;
      }
      return { name: host, up: true, freeMemoryMb: free, guestsOfPool: ofPool };
    } catch (e) {
      if (isGridhostError(e) && (e.code === 'GH_HOST_UNREACHABLE' || e.code === 'GH_HOST_KEY_MISMATCH' || e.code === 'GH_COMMAND_TIMEOUT')) {
        return { name: host, up: false, freeMemoryMb: 0, guestsOfPool: 0, error: e.message };
      }
      throw e;
    }
  }

  /**
   * Reservations on `host` written by any gridhost (several processes, each leading other pools,
   * may place on one dom0): `<id> <pool> <MiB>` per file. One older than a clone and a create
   * may take is a crashed placement's leftover and no longer counts.
   */
  private async dom0Reservations(host: string): Promise<{ id: string; pool: string; mb: number }[]> {
    const script = 'now=$(date +%s); for f in "$1"/*.reserve; do [ -f "$f" ] || continue; printf "%s %s %s\\n" "$(stat -c %Y "$f")" "$now" "$(head -c 200 "$f" | head -1)"; done; true';
    const r = await this.cmd.run(host, ['sh', '-c', script, 'sh', this.o.cfgDir], 'GH_COMMAND_FAILED');
    const maxAgeS = (this.o.cloneTimeoutMs + this.o.createTimeoutMs) / 1000 + 60;
    const out: { id: string; pool: string; mb: number }[] = [];
    for (const line of r.stdout.split('\n')) {
      const [mtime, now, id, pool, mb] = line.trim().split(/\s+/);
      if (!id || !pool || !/^\d+$/.test(mb ?? '') || Number(now) - Number(mtime) > maxAgeS) continue;
      out.push({ id, pool, mb: Number(mb) });
    }
    return out;
  }
}
