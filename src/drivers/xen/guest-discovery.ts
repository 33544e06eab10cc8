// What the dom0s hold of gridhost's guests, read back from the dom0s themselves (no state is
// kept here): discover() lists running domains and leftover clones by their rendered configs'
// `# gridhost.*` headers, each running one with its size (xl list -l now, its config's template
// size as the floor) for adoption; gone() says which recorded guests' domains `xl list` no
// longer shows.
import type { Guest } from '../../domain/types.ts';
import { isGridhostError } from '../../errors/errors.ts';
import type { DiscoveredGuest, DiscoveredSize } from '../hypervisor/hypervisor.ts';
import type { Dom0Commands } from './dom0-commands.ts';
import { cfgSize } from './xen-resize.ts';
import type { XenDriverSettings } from './xen-hypervisor-options.ts';
import { parseXlList, type XlDomain } from './xl-parse.ts';

export class GuestDiscovery {
  constructor(
    private readonly cmd: Dom0Commands,
    private readonly o: XenDriverSettings,
  ) {}

  async discover(): Promise<DiscoveredGuest[]> {
    const found: DiscoveredGuest[] = [];
    for (const host of this.cmd.hosts.names()) {
      let domains: XlDomain[];
      let cfgs: Map<string, { header: Record<string, string>; lines: string }>;
      try {
        domains = await this.cmd.listDomains(host);
        cfgs = await this.cmd.readCfgHeadersAndSize(host);
      } catch (e) {
        if (isGridhostError(e) && (e.code === 'GH_HOST_UNREACHABLE' || e.code === 'GH_HOST_KEY_MISMATCH')) continue; // down: skipped
        throw e;
      }
      const seen = new Set<string>();
      for (const d of domains) {
        if (!d.name.startsWith(this.o.namePrefix) || d.domid === 0) continue;
        const id = d.name.slice(this.o.namePrefix.length);
        const cfg = cfgs.get(id);
        const header = cfg?.header ?? {};
        seen.add(id);
        const meta: Record<string, string> = { ...withoutGuest(header), host, domain: d.name, domid: String(d.domid) };
        const pool = header['pool'] ?? id.slice(0, Math.max(0, id.lastIndexOf('-')));
        const g: DiscoveredGuest = { id, pool, host, meta, running: true };
        const address = this.cmd.addressOf(host, header);
        if (address) g.address = address;
        if (cfg) g.size = this.sizeOf(d, cfg.lines);
        found.push(g);
      }
      for (const [id, { header }] of cfgs) {
        if (seen.has(id)) continue;
        const g: DiscoveredGuest = { id, pool: header['pool'] ?? '', host, meta: { ...withoutGuest(header), host }, running: false };
        const address = this.cmd.addressOf(host, header);
        if (address) g.address = address;
        found.push(g);
      }
    }
    return found;
  }

  /** Guests whose domain `xl list` on their dom0 no longer shows (one short listing per host);
   *  a host that does not answer is skipped: its guests are lost, not gone (hostUp). */
  async gone(guests: readonly Guest[]): Promise<Set<string>> {
    const out = new Set<string>();
    const byHost = new Map<string, Guest[]>();
    for (const g of guests) {
      if (!g.host) continue;
      byHost.set(g.host, [...(byHost.get(g.host) ?? []), g]);
    }
    for (const [host, list] of byHost) {
      let names: Set<string>;
      try {
        const r = await this.cmd.run(host, [this.o.xlPath, 'list'], 'GH_COMMAND_FAILED');
        names = new Set(parseXlList(r.stdout).map((d) => d.name));
      } catch (e) {
        if (isGridhostError(e) && (e.code === 'GH_HOST_UNREACHABLE' || e.code === 'GH_HOST_KEY_MISMATCH' || e.code === 'GH_COMMAND_TIMEOUT')) continue;
        throw e;
      }
      for (const g of list) if (!names.has(g.meta.domain ?? this.cmd.domainName(g.id))) out.add(g.id);
    }
    return out;
  }

  /** The domain's size as dom0 has it now (a resize since its create included), with the floor
   *  of a step down from its config (the template's vcpus/memory, read as at clone). */
  private sizeOf(d: XlDomain, cfgLines: string): DiscoveredSize {
    const made = cfgSize(cfgLines, this.o.memoryMb);
    return { vcpus: d.vcpus, maxVcpus: d.maxVcpus, memoryMb: d.memoryMb, maxMemoryMb: d.maxMemoryMb, baseVcpus: made.vcpus, baseMemoryMb: made.memoryMb };
  }
}

function withoutGuest(h: Record<string, string>): Record<string, string> {
  const { guest: _g, ...rest } = h;
  return rest;
}
