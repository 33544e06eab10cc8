// The Xen hypervisor driver: clone, boot, stop and unmake PV guests with xl on dom0 hosts over
// SSH. State lives on the dom0s, not here: each guest's rendered xl.cfg (kept in cfgDir for
// debugging) starts with `# gridhost.*` header lines naming its pool, IP, MAC and clone, so
// discover() and a restarted gridhost can find and clean up everything the driver made.
// This class only composes the parts, each in its own module: the commands on dom0 behind the
// fence (dom0-commands.ts), placement with memory reservations (place-and-reserve.ts), the launch
// path (guest-launch.ts), the teardown path (guest-teardown.ts), discovery (guest-discovery.ts),
// pause/unpause/resize in place (running-domain.ts), credit (domain-credit.ts), live migration
// (live-migration.ts) and each dom0's CPU use and free memory (host-usage.ts).
import type http from 'node:http';
import type { Policy } from '../../domain/policy.ts';
import type { SourceDigest } from '../../decision/rollout-plan.ts';
import type { Guest, HostSample } from '../../domain/types.ts';
import { GridhostError } from '../../errors/errors.ts';
import type { DiscoveredGuest, DriverFence, GuestSpec, Hypervisor, StepResult } from '../hypervisor/hypervisor.ts';
import { assertSafeName, assertSafePath } from '../ssh/shell-quote.ts';
import type { HttpResult } from '../ssh/ssh-connection.ts';
import { Dom0Commands } from './dom0-commands.ts';
import { DomainCredit } from './domain-credit.ts';
import { GuestDiscovery } from './guest-discovery.ts';
import { GuestLaunch } from './guest-launch.ts';
import type { GuestNetwork } from './guest-network.ts';
import { GuestTeardown } from './guest-teardown.ts';
import { HostUsage } from './host-usage.ts';
import { LiveMigration } from './live-migration.ts';
import { PlaceAndReserve } from './place-and-reserve.ts';
import { RunningDomain } from './running-domain.ts';
import { xenDriverSettings, type XenDriverSettings, type XenHypervisorOptions } from './xen-hypervisor-options.ts';
import type { XenHosts } from './xen-hosts.ts';

export type { XenHypervisorOptions } from './xen-hypervisor-options.ts';

export class XenHypervisor implements Hypervisor {
  readonly name = 'xen';
  private readonly hosts: XenHosts;
  private readonly o: XenDriverSettings;
  private readonly migration?: LiveMigration;
  /** Each dom0's CPU use and free memory (policy contention), shared by every pool. */
  private readonly usage: HostUsage;
  private readonly cmd: Dom0Commands;
  private readonly places: PlaceAndReserve;
  private readonly credit: DomainCredit;
  private readonly launch: GuestLaunch;
  private readonly teardown: GuestTeardown;
  private readonly discovery: GuestDiscovery;
  private readonly running: RunningDomain;

  constructor(opts: XenHypervisorOptions) {
    this.hosts = opts.hosts;
    this.o = xenDriverSettings(opts);
    // A tick waits for it: no longer than XentopSource's own 30 s.
    this.usage = new HostUsage({ hosts: this.hosts, xlPath: this.o.xlPath, xentopPath: this.o.xentopPath, timeoutMs: Math.min(this.o.commandTimeoutMs, 30_000), ...(opts.xentopRuns ? { xentop: opts.xentopRuns } : {}) });
    assertSafePath(this.o.xlPath);
    assertSafePath(this.o.cfgDir);
    assertSafePath(this.o.xentopPath);
    if (this.o.namePrefix !== '') assertSafeName(this.o.namePrefix);
    this.cmd = new Dom0Commands(this.hosts, this.o);
    this.places = new PlaceAndReserve(this.cmd, this.usage, this.o);
    this.credit = new DomainCredit(this.cmd, this.o);
    this.launch = new GuestLaunch(this.cmd, this.places, this.credit, this.o);
    this.teardown = new GuestTeardown(this.cmd, this.places, this.o);
    this.discovery = new GuestDiscovery(this.cmd, this.o);
    this.running = new RunningDomain(this.cmd, this.o);
    const storage = opts.storageByHost ?? {};
    if (Object.keys(storage).length > 0) {
      for (const a of Object.values(opts.migrateToByHost ?? {})) assertSafeName(a);
      this.migration = new LiveMigration({
        hostNames: () => this.hosts.names(),
        isUp: (h) => this.hosts.isUp(h),
        storageByHost: storage,
        migrateToByHost: opts.migrateToByHost ?? {},
        xlPath: this.o.xlPath, cfgDir: this.o.cfgDir, memoryMb: this.o.memoryMb,
        migrateTimeoutMs: opts.migrateTimeoutMs ?? 600_000, commandTimeoutMs: this.o.commandTimeoutMs,
        exec: async (host, argv, o) => {
          const r = await this.hosts.exec(host, this.cmd.fenced(o.fence, argv), { timeoutMs: o.timeoutMs, ...(o.stdin !== undefined ? { stdin: o.stdin } : {}) });
          this.cmd.throwIfFenced(host, r);
          return r;
        },
        place: (id, pool, needMb, fence, closed) => this.places.place(id, pool, needMb, fence, closed),
        unreserve: (id, host, fence) => this.places.unreserve(id, host, fence),
      });
    }
  }

  /** Live migration within a storage group (live-migration.ts); undefined when this guest cannot move live. */
  async migrate(guest: Guest, o: { policy: Policy; avoidHosts: readonly string[]; fence?: DriverFence }): Promise<(StepResult & { host: string }) | undefined> {
    if (!this.migration) return undefined;
    return this.migration.migrate(guest, { avoidHosts: o.avoidHosts, ...(o.fence ? { fence: o.fence } : {}) });
  }

  domainName(guestId: string): string {
    return this.cmd.domainName(guestId);
  }

  /** An http.Agent that reaches the guest's address through its dom0's SSH connection. */
  agentFor(guest: Pick<Guest, 'host'>): http.Agent {
    return this.hosts.agent(guest.host);
  }

  /** GET a guest's HTTP path through its dom0 (guest networks are usually not routable from here). */
  httpGet(guest: Pick<Guest, 'host' | 'address'>, path: string, timeoutMs: number): Promise<HttpResult> {
    const [ip, port] = (guest.address ?? '').split(':');
    if (!ip || !port) return Promise.reject(new GridhostError('GH_COMMAND_FAILED', `guest on ${guest.host} has no address yet`));
    return this.hosts.ssh(guest.host).httpGet(ip, Number(port), path, timeoutMs);
  }

  hostNames(): readonly string[] {
    return this.hosts.names();
  }

  /** The dom0's guest network. */
  networkOf(host: string): GuestNetwork {
    return this.cmd.networkOf(host);
  }

  clone(spec: GuestSpec): Promise<StepResult> {
    return this.launch.clone(spec);
  }

  /** See GuestLaunch.sourceDigest: the template here, the base image as `host` has it now. */
  sourceDigest(policy: Policy, host: string): Promise<SourceDigest> {
    return this.launch.sourceDigest(policy, host);
  }

  boot(spec: GuestSpec, meta: Record<string, string>): Promise<StepResult> {
    return this.launch.boot(spec, meta);
  }

  stop(guest: Guest, timeoutMs: number, fence?: DriverFence): Promise<void> {
    return this.teardown.stop(guest, timeoutMs, fence);
  }

  deleteClone(guest: Guest, fence?: DriverFence): Promise<void> {
    return this.teardown.deleteClone(guest, fence);
  }

  /** `xl vcpu-set` / `xl mem-set` behind the dom0 fence (xen-resize.ts; policy guest.vertical). */
  resize(guest: Guest, size: { vcpus: number; memoryMb: number }, fence?: DriverFence): Promise<StepResult> {
    return this.running.resize(guest, size, fence);
  }

  /** `xl pause` (the warm pool), behind the dom0 fence. */
  pause(guest: Guest, fence?: DriverFence): Promise<StepResult> {
    return this.running.pause(guest, fence);
  }

  /** `xl unpause`, behind the dom0 fence. */
  unpause(guest: Guest, fence?: DriverFence): Promise<StepResult> {
    return this.running.unpause(guest, fence);
  }

  discover(): Promise<DiscoveredGuest[]> {
    return this.discovery.discover();
  }

  gone(guests: readonly Guest[]): Promise<Set<string>> {
    return this.discovery.gone(guests);
  }

  /** A dom0 whose SSH transport failed is down until a command gets through again. */
  hostUp(host: string): boolean {
    return this.hosts.isUp(host);
  }

  /** The pool's guest.credit again on a running guest gridhost takes up (see Hypervisor.reapply), behind the dom0 fence. */
  async reapply(guest: Guest, policy: Policy, fence?: DriverFence): Promise<Record<string, string>> {
    const credit = policy.guest.credit;
    const host = guest.meta['host'] ?? guest.host;
    if (!credit || !host || !this.hosts.names().includes(host)) return {};
    return this.credit.apply(host, guest.meta['domain'] ?? this.domainName(guest.id), credit, fence);
  }

  /** Each dom0's CPU use and free memory (see Hypervisor.hostFacts). */
  hostFacts(): Promise<HostSample[]> {
    return this.usage.facts();
  }

  async close(): Promise<void> {
    await this.hosts.close();
  }
}
