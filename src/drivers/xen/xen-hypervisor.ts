// The Xen hypervisor driver: clone, boot, stop and unmake PV guests with xl on dom0 hosts over
// SSH. State lives on the dom0s, not here: each guest's rendered xl.cfg (kept in cfgDir for
// debugging) starts with `# gridhost.*` header lines naming its pool, IP, MAC and clone, so
// discover() and a restarted gridhost can find and clean up everything the driver made.
// Memory placed but not yet in a domain is reserved on dom0 too (`<id>.reserve` in cfgDir, from
// placement until xl create ends), so gridhost processes leading other pools on the same dom0
// count it; the window left is one SSH round trip between one's `xl info` and another's write.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { CreditSettings, Policy } from '../../domain/policy.ts';
import { IMAGE_DIGEST_META, TEMPLATE_DIGEST_META, type SourceDigest } from '../../decision/rollout-plan.ts';
import type http from 'node:http';
import type { Guest, HostSample } from '../../domain/types.ts';
import { GridhostError, isGridhostError, wrapError } from '../../errors/errors.ts';
import type { DiscoveredGuest, DriverFence, GuestSpec, Hypervisor, StepResult } from '../hypervisor/hypervisor.ts';
import { fencedArgv, fencedReason, isFencedRefusal } from './dom0-fence.ts';
import { LiveMigration } from './live-migration.ts';
import { assertSafeName, assertSafePath } from '../ssh/shell-quote.ts';
import type { HttpResult } from '../ssh/ssh-connection.ts';
import { clonePlan } from './clone-commands.ts';
import { KeyedLock } from './keyed-lock.ts';
import { takenAddresses, type TakenAddresses } from './guest-addresses.ts';
import { DEFAULT_GUEST_NETWORK, describeRange, freeGuestIp, networkVars, type GuestNetwork } from './guest-network.ts';
import { placeOnOpenHost, type HostLoad } from './placement.ts';
import { HostUsage } from './host-usage.ts';
import { cfgCpus, creditArgv, creditMeta } from './xen-sched.ts';
import { cfgHeader, parseCfgHeader, renderXlCfg, uniqueMac, uuidFor } from './xl-cfg.ts';
import { cfgMaxMemoryMb, cfgSizeMeta, resizeDomain } from './xen-resize.ts';
import type { XenHosts } from './xen-hosts.ts';
import { classifyXlError, isNoSuchDomain, parseXlInfo, parseXlList, parseXlListLong, xlErrorSummary, type XlDomain } from './xl-parse.ts';

export interface XenHypervisorOptions {
  hosts: XenHosts;
  /** Debian's /usr/sbin/xl is a wrapper script: call the real binary. */
  xlPath?: string;
  /** Where rendered configs are kept on each dom0. */
  cfgDir?: string;
  /** Domain name = prefix + guest id; marks the domains gridhost owns. */
  namePrefix?: string;
  /** Each dom0's guest network (bridge, addresses handed out, prefix, gateway, service port). */
  networkByHost?: Record<string, GuestNetwork>;
  /** The network of a dom0 not in networkByHost (default: the Xen lab's). */
  network?: GuestNetwork;
  /** Value of {{memory}} when the template uses it. */
  memoryMb?: number;
  lvmSnapshotSize?: string;
  commandTimeoutMs?: number;
  cloneTimeoutMs?: number;
  createTimeoutMs?: number;
  /** `xl destroy` (2-3 s on the lab when idle; much longer under load). */
  destroyTimeoutMs?: number;
  /** After shutdown/destroy, how long to wait for the domain to leave `xl list`: device teardown
   *  took 54 s on the loaded lab (scripts/xen-lab/README.md); default 120 s. */
  goneTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** xentop, for each dom0's CPU use (policy contention). */
  xentopPath?: string;
  /** Storage group of each dom0 that has one: live migration only within a group (live-migration.ts). */
  storageByHost?: Record<string, string>;
  /** The address peers' xl migrate reaches each dom0 at (default: its name as configured address). */
  migrateToByHost?: Record<string, string>;
  /** How long one `xl migrate` may take (default 10 min). */
  migrateTimeoutMs?: number;
}

export class XenHypervisor implements Hypervisor {
  readonly name = 'xen';
  private readonly hosts: XenHosts;
  private readonly o: Required<Omit<XenHypervisorOptions, 'hosts' | 'networkByHost' | 'storageByHost' | 'migrateToByHost' | 'migrateTimeoutMs'>> & { networkByHost: Record<string, GuestNetwork> };
  private readonly migration?: LiveMigration;
  /** Memory promised to guests cloned but not yet visible in `xl list` (guest id -> host, MiB). */
  private readonly reserved = new Map<string, { host: string; mb: number }>();
  private placing: Promise<unknown> = Promise.resolve();
  /** Clones on one dom0 run one at a time (each picks a free IP/MAC from what the last wrote). */
  private readonly cloneLock = new KeyedLock();
  /** So do `xl create`s: parallel ones contend for the block hotplug script's lock and time out
   *  in libxl (seen on the lab: "hotplug timeout" with two creates at once). */
  private readonly createLock = new KeyedLock();
  /** Domains listed by placement, reused by the clone that follows (saves one `xl list -l`). */
  private readonly placedWith = new Map<string, XlDomain[]>();
  /** Each dom0's CPU use and free memory (policy contention), shared by every pool. */
  private readonly usage: HostUsage;
  /** Each dom0's xen_scheduler, once known. */
  private readonly schedulers = new Map<string, string>();

  constructor(opts: XenHypervisorOptions) {
    this.hosts = opts.hosts;
    this.o = {
      xlPath: opts.xlPath ?? '/usr/lib/xen-4.17/bin/xl',
      cfgDir: opts.cfgDir ?? '/etc/xen/gridhost',
      namePrefix: opts.namePrefix ?? 'gh-',
      network: opts.network ?? DEFAULT_GUEST_NETWORK,
      networkByHost: opts.networkByHost ?? {},
      memoryMb: opts.memoryMb ?? 128,
      lvmSnapshotSize: opts.lvmSnapshotSize ?? '256M',
      commandTimeoutMs: opts.commandTimeoutMs ?? 30_000,
      cloneTimeoutMs: opts.cloneTimeoutMs ?? 300_000,
      createTimeoutMs: opts.createTimeoutMs ?? 120_000,
      destroyTimeoutMs: opts.destroyTimeoutMs ?? 120_000,
      goneTimeoutMs: opts.goneTimeoutMs ?? 120_000,
      sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      xentopPath: opts.xentopPath ?? '/usr/lib/xen-4.17/bin/xentop',
    };
    // A tick waits for it: no longer than XentopSource's own 30 s.
    this.usage = new HostUsage({ hosts: this.hosts, xlPath: this.o.xlPath, xentopPath: this.o.xentopPath, timeoutMs: Math.min(this.o.commandTimeoutMs, 30_000) });
    assertSafePath(this.o.xlPath);
    assertSafePath(this.o.cfgDir);
    assertSafePath(this.o.xentopPath);
    if (this.o.namePrefix !== '') assertSafeName(this.o.namePrefix);
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
          const r = await this.hosts.exec(host, this.fenced(o.fence, argv), { timeoutMs: o.timeoutMs, ...(o.stdin !== undefined ? { stdin: o.stdin } : {}) });
          this.throwIfFenced(host, r);
          return r;
        },
        place: (id, pool, needMb, fence, closed) => this.placeAndReserve(id, pool, needMb, fence, closed),
        unreserve: async (id, host, fence) => {
          this.reserved.delete(id);
          this.placedWith.delete(id);
          await this.bestEffort(host, ['rm', '-f', '--', this.reservationPath(id)], fence);
        },
      });
    }
  }

  /** Live migration within a storage group (live-migration.ts); undefined when this guest cannot move live. */
  async migrate(guest: Guest, o: { policy: Policy; avoidHosts: readonly string[]; fence?: DriverFence }): Promise<(StepResult & { host: string }) | undefined> {
    if (!this.migration) return undefined;
    return this.migration.migrate(guest, { avoidHosts: o.avoidHosts, ...(o.fence ? { fence: o.fence } : {}) });
  }

  domainName(guestId: string): string {
    return `${this.o.namePrefix}${assertSafeName(guestId)}`;
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

  async clone(spec: GuestSpec): Promise<StepResult> {
    const id = assertSafeName(spec.id);
    const g = spec.policy.guest;
    const image = assertSafePath(g.image);
    const template = await this.readTemplate(g.template);
    // A dry render validates the template and tells how much memory the guest will take.
    // (The host is not chosen yet: the probe's network has every placeholder; cloneOn renders for real.)
    const probe = this.render(template, { id, pool: spec.pool, ip: '192.0.2.1', mac: '00:16:3e:00:00:00', disk: image, format: 'raw', network: { ...this.o.network, gateway: '192.0.2.254' } });
    // Its maxmem when the template has one: a vertical step up may balloon it that far.
    const needMb = cfgMaxMemoryMb(probe) ?? this.o.memoryMb;
    // Pinning (`cpus =`) is checked before anything is placed, and recorded for the API.
    const cpus = cfgCpus(probe);
    const host = await this.placeAndReserve(id, spec.pool, needMb, spec.fence, new Set(spec.avoidHosts ?? []), spec.policy.contention?.saturatedAt);
    try {
      const made = await this.cloneLock.run(host, () => this.cloneOn(host, spec, id, image, template));
      return { ...made, meta: { ...made.meta, [TEMPLATE_DIGEST_META]: templateDigest(template), ...(cpus !== undefined ? { cpus } : {}), ...cfgSizeMeta(probe, this.o.memoryMb) } };
    } catch (e) {
      this.reserved.delete(id);
      this.placedWith.delete(id);
      await this.bestEffort(host, ['rm', '-f', '--', this.reservationPath(id)], spec.fence);
      // Keep to the interface's clone codes: a failed listing or parse is a failed clone.
      if (isGridhostError(e) && e.code === 'GH_COMMAND_FAILED') throw new GridhostError('GH_CLONE_FAILED', e.message, { ...e.details, host }, { cause: e });
      throw isGridhostError(e) ? e : wrapError('GH_CLONE_FAILED', e, { host });
    }
  }

  private async cloneOn(host: string, spec: GuestSpec, id: string, image: string, template: string): Promise<StepResult> {
    const plan = clonePlan(spec.policy.guest.clone, image, id, { snapshotSize: this.o.lvmSnapshotSize });
    const cfgPath = `${this.o.cfgDir}/${id}.cfg`;
    const { ips, macs } = await this.addressesInUse(host, this.placedWith.get(id));
    this.placedWith.delete(id);
    const network = this.networkOf(host);
    const ip = freeGuestIp(network, ips);
    if (ip === undefined) throw new GridhostError('GH_OUT_OF_CAPACITY', `${host}: every guest address in ${describeRange(network)} is taken`, { host });
    const mac = uniqueMac(id, macs);
    const meta: Record<string, string> = {
      host,
      domain: this.domainName(id),
      pool: spec.pool,
      cfg: cfgPath,
      image,
      disk: plan.target,
      cloneMethod: plan.method,
      ip,
      port: String(network.port),
      mac,
    };
    // The base image's digest on this dom0, taken before the copy (an image replaced during it
    // makes the guest look older than it is, never newer). Kept out of the cfg header.
    const imageDigest = await this.imageDigestOn(host, image, 'GH_CLONE_FAILED');
    const text = `${cfgHeader({ guest: id, ...meta })}\n${this.render(template, { id, pool: spec.pool, ip, mac, disk: plan.target, format: plan.format, network })}\n`;
    // The config first: it reserves the IP and MAC on the host and names the clone for cleanup.
    const fence = spec.fence;
    await this.run(host, ['mkdir', '-p', this.o.cfgDir], 'GH_CLONE_FAILED');
    await this.run(host, ['sh', '-c', 'cat > "$1.tmp" && mv -f "$1.tmp" "$1"', 'sh', cfgPath], 'GH_CLONE_FAILED', { stdin: text, fence });
    try {
      // Refuse to overwrite an existing disk (a leftover of a crash must go through deleteClone),
      // except a complete copy of the base: the guest id is new, so that can only be this very
      // command's own earlier run (an exec the SSH layer retried after the server reported it
      // refused, though it had started it; seen on the Xen lab's Dropbear under load).
      const sameAsBase = plan.format === 'raw' && (plan.method === 'copy' || plan.method === 'reflink' || plan.method === 'auto') ? image : '';
      const create = ['sh', '-c', 'if [ -e "$1" ]; then [ -n "$2" ] && cmp -s "$2" "$1" && exit 0; echo "clone target $1 already exists" >&2; exit 17; fi; shift 2; exec "$@"', 'sh', plan.target, sameAsBase, ...plan.create];
      await this.run(host, create, 'GH_CLONE_FAILED', { timeoutMs: this.o.cloneTimeoutMs, fence });
    } catch (e) {
      // Nothing left behind: the cfg, and a partial clone unless it was someone else's file.
      const existed = isGridhostError(e) && e.details['exitCode'] === 17;
      await this.bestEffort(host, existed ? ['rm', '-f', '--', cfgPath] : ['sh', '-c', 'rm -f -- "$1"; shift; "$@"', 'sh', cfgPath, ...plan.remove], fence);
      throw e;
    }
    return { meta: { ...meta, [IMAGE_DIGEST_META]: imageDigest }, host, address: `${ip}:${network.port}` };
  }

  /**
   * The template (sha256 of the file here) and the base image as `host` has it now. The image
   * lives on each dom0 and may be many GiB: reading it to hash it on every check would cost a
   * full read of the disk, so its digest is `stat` on dom0 (size, mtime, inode) over the kept
   * SSH connection: a new image copied or moved into place changes one of them; an image
   * rewritten in place with its size and mtime kept is not seen. For lvm-snapshot the path is
   * the origin LV's device node, which is new when the LV is recreated, not when it is written.
   */
  async sourceDigest(policy: Policy, host: string): Promise<SourceDigest> {
    const template = templateDigest(await this.readTemplate(policy.guest.template));
    return { template, image: await this.imageDigestOn(host, assertSafePath(policy.guest.image), 'GH_TEMPLATE_INVALID') };
  }

  private async imageDigestOn(host: string, image: string, failCode: 'GH_CLONE_FAILED' | 'GH_TEMPLATE_INVALID'): Promise<string> {
    const r = await this.hosts.exec(host, ['stat', '-L', '-c', '%s:%Y:%i', '--', image], { timeoutMs: this.o.commandTimeoutMs });
    const out = r.stdout.trim();
    if (r.code !== 0 || !/^\d+:\d+:\d+$/.test(out)) {
      throw new GridhostError(failCode, `${host}: cannot stat base image ${image} (exit ${r.code}): ${r.stderr.trim().slice(0, 300) || '(no error output)'}`, { host, image });
    }
    return `stat:${out}`;
  }

  async boot(spec: GuestSpec, meta: Record<string, string>): Promise<StepResult> {
    const host = meta['host'];
    const cfg = meta['cfg'];
    if (!host || !cfg) throw new GridhostError('GH_BOOT_FAILED', `guest ${spec.id} has no clone to boot (meta lacks host/cfg)`);
    const domain = meta['domain'] ?? this.domainName(spec.id);
    try {
      const create = [this.o.xlPath, 'create', assertSafePath(cfg)];
      let r;
      try {
        r = await this.createLock.run(host, () => this.hosts.exec(host, this.fenced(spec.fence, create), { timeoutMs: this.o.createTimeoutMs }));
      } catch (e) {
        if (isGridhostError(e) && e.code === 'GH_COMMAND_TIMEOUT') await this.destroyQuietly(host, domain, spec.fence);
        throw e;
      }
      this.throwIfFenced(host, r);
      if (r.code !== 0) {
        const code = classifyXlError(r.stderr, r.code);
        // Name in use means the domain is someone else's: never destroy it.
        if (code !== 'GH_NAME_IN_USE') await this.destroyQuietly(host, domain, spec.fence);
        throw new GridhostError(code, `${host}: xl create ${cfg} failed (exit ${r.code}): ${xlErrorSummary(r.stderr)}`, {
          host,
          exitCode: r.code,
          stderr: r.stderr.slice(0, 4000),
        });
      }
      const id = await this.run(host, [this.o.xlPath, 'domid', domain], 'GH_BOOT_FAILED');
      // The pool's credit weight and cap before the guest serves (a failure fails the boot: the
      // controller stops the domain and deletes its clone, as for any failed boot).
      const credit = spec.policy.guest.credit;
      const applied = credit ? await this.applyCredit(host, domain, credit) : {};
      const out: StepResult = { meta: { domid: id.stdout.trim(), ...applied }, host };
      const address = this.addressOf(host, meta);
      if (address) out.address = address;
      return out;
    } finally {
      // The domain exists now (xl list counts it) or the create failed: the reservation is done.
      this.reserved.delete(spec.id);
      await this.bestEffort(host, ['rm', '-f', '--', this.reservationPath(assertSafeName(spec.id))], spec.fence);
    }
  }

  async stop(guest: Guest, timeoutMs: number, fence?: DriverFence): Promise<void> {
    const host = guest.meta['host'] ?? guest.host;
    if (!host || !this.hosts.names().includes(host)) return; // never placed: nothing runs
    const domain = guest.meta['domain'] ?? this.domainName(guest.id);
    // A paused domain (the warm pool's) cannot answer a shutdown request, and has no work to
    // finish: destroy it at once.
    if (guest.meta['paused'] === '1') {
      await this.destroyQuietly(host, domain);
      if (await this.waitGone(host, domain, this.o.goneTimeoutMs)) return;
      throw new GridhostError('GH_STOP_FAILED', `${host}: paused domain ${domain} is still listed after xl destroy`, { host, domain });
    }
    // `xl shutdown` without -w, then our own polling: this is `xl shutdown -w` with a timeout,
    // except that an xl killed at the timeout while it tears devices down would leave the
    // domain half-destroyed (seen on the lab: the following `xl destroy` then fails).
    const shutdown = async () => {
      const res = await this.hosts.exec(host, this.fenced(fence, [this.o.xlPath, 'shutdown', domain]), { timeoutMs: this.o.commandTimeoutMs });
      this.throwIfFenced(host, res);
      return res;
    };
    let r = await shutdown();
    if (r.code !== 0 && isNoSuchDomain(r.stderr)) {
      // No domain yet. A gridhost that died during `xl create` left it running on dom0 (remote
      // commands outlive the SSH session; checked on the lab): returning now would let it make
      // the domain afterwards. While one runs, wait for the domain and stop it.
      const cfg = guest.meta['cfg'] ?? `${this.o.cfgDir}/${assertSafeName(guest.id)}.cfg`;
      const create = `${this.o.xlPath} create ${assertSafePath(cfg)}`;
      const deadline = Date.now() + this.o.createTimeoutMs;
      for (;;) {
        // Look for the create before looking for the domain: a create that ends in between
        // has made its domain by then, so the shutdown below finds it.
        const inFlight = await this.processRunning(host, create);
        r = await shutdown();
        // Once the domain exists, stop looking: xl's own monitor of a created domain keeps the
        // create's command line for the domain's whole life.
        if (!(r.code !== 0 && isNoSuchDomain(r.stderr))) break;
        if (!inFlight || Date.now() > deadline) return;
        await this.o.sleep(500);
      }
    }
    if (await this.waitGone(host, domain, Math.max(1000, timeoutMs))) return;
    try {
      await this.destroyQuietly(host, domain, fence);
    } catch (e) {
      // destroy can fail while a shutdown is finishing the same teardown: only a domain that
      // is still listed afterwards is a failure.
      if (!isGridhostError(e) || e.code !== 'GH_STOP_FAILED') throw e;
    }
    if (!(await this.waitGone(host, domain, this.o.goneTimeoutMs))) {
      throw new GridhostError('GH_STOP_FAILED', `${host}: domain ${domain} is still listed after xl shutdown and xl destroy`, { host, domain });
    }
  }

  /** `xl vcpu-set` / `xl mem-set` behind the dom0 fence (xen-resize.ts; policy guest.vertical). */
  async resize(guest: Guest, size: { vcpus: number; memoryMb: number }, fence?: DriverFence): Promise<StepResult> {
    const host = guest.meta['host'] ?? guest.host;
    if (!host || !this.hosts.names().includes(host)) throw new GridhostError('GH_RESIZE_FAILED', `guest ${guest.id} has no dom0 to resize it on`, { guest: guest.id });
    const domain = guest.meta['domain'] ?? this.domainName(guest.id);
    const current = { vcpus: Number(guest.meta['vcpus']), memoryMb: Number(guest.meta['memory_mb']) };
    const exec = async (argv: string[]) => {
      const r = await this.hosts.exec(host, this.fenced(fence, argv), { timeoutMs: this.o.commandTimeoutMs });
      this.throwIfFenced(host, r);
      return r;
    };
    return { meta: await resizeDomain(exec, { host, xl: this.o.xlPath, domain, current, want: size }) };
  }

  /** `xl pause` (the warm pool): the domain keeps its memory (counted on its dom0 as any
   *  domain's) and runs no vCPU until unpause(). */
  async pause(guest: Guest): Promise<StepResult> {
    const { host, domain } = this.domainOf(guest, 'pause');
    await this.run(host, [this.o.xlPath, 'pause', domain], 'GH_BOOT_FAILED');
    return { meta: { paused: '1' } };
  }

  /** `xl unpause`. Xen refuses to unpause a domain that is not paused: when it does, `xl list`
   *  says whether the domain runs (success) or is gone or still paused (GH_BOOT_FAILED). */
  async unpause(guest: Guest): Promise<StepResult> {
    const { host, domain } = this.domainOf(guest, 'unpause');
    const r = await this.hosts.exec(host, [this.o.xlPath, 'unpause', domain], { timeoutMs: this.o.commandTimeoutMs });
    if (r.code !== 0) {
      const l = await this.hosts.exec(host, [this.o.xlPath, 'list', domain], { timeoutMs: this.o.commandTimeoutMs });
      const state = l.code === 0 ? parseXlList(l.stdout).find((d) => d.name === domain)?.state : undefined;
      if (state === undefined || state.includes('p')) {
        throw new GridhostError('GH_BOOT_FAILED', `${host}: xl unpause ${domain} failed (exit ${r.code}): ${xlErrorSummary(r.stderr)}`, { host, domain, exitCode: r.code });
      }
    }
    return { meta: { paused: '0' } };
  }

  private domainOf(guest: Guest, what: string): { host: string; domain: string } {
    const host = guest.meta['host'] ?? guest.host;
    if (!host || !this.hosts.names().includes(host)) throw new GridhostError('GH_BOOT_FAILED', `guest ${guest.id} has no dom0 to ${what} it on`, { guest: guest.id });
    return { host, domain: guest.meta['domain'] ?? this.domainName(guest.id) };
  }

  async deleteClone(guest: Guest, fence?: DriverFence): Promise<void> {
    this.reserved.delete(guest.id);
    const host = guest.meta['host'];
    if (!host || !this.hosts.names().includes(host)) {
      // Placed but cut short before its host was recorded (a crash between placement and the
      // clone's end): only its memory reservation can exist, on whichever dom0 placement chose
      // (its config, written later, names the host and discover() finds it).
      const reservation = this.reservationPath(assertSafeName(guest.id));
      await Promise.all(this.hosts.names().map((h) => this.bestEffort(h, ['rm', '-f', '--', reservation], fence)));
      return;
    }
    const cfg = guest.meta['cfg'] ?? `${this.o.cfgDir}/${assertSafeName(guest.id)}.cfg`;
    const method = guest.meta['cloneMethod'];
    const image = guest.meta['image'];
    if (method && image) {
      const plan = clonePlan(method as Parameters<typeof clonePlan>[0], image, guest.id, { snapshotSize: this.o.lvmSnapshotSize });
      // A clone command that outlived a crashed gridhost would make the disk after this removal
      // (an LV would then be named by no config, found by no later pass): let it end first.
      const deadline = Date.now() + this.o.cloneTimeoutMs;
      while (Date.now() < deadline && (await this.processRunning(host, plan.create.join(' ')))) await this.o.sleep(500);
      const r = await this.hosts.exec(host, this.fenced(fence, plan.remove), { timeoutMs: this.o.cloneTimeoutMs });
      this.throwIfFenced(host, r);
      if (r.code !== 0) {
        const still = await this.hosts.exec(host, ['test', '-e', plan.target], { timeoutMs: this.o.commandTimeoutMs });
        if (still.code === 0) {
          throw new GridhostError('GH_CLONE_FAILED', `${host}: could not remove clone ${plan.target}: ${r.stderr.trim()}`, { host, disk: plan.target });
        }
      }
    }
    await this.run(host, ['rm', '-f', '--', assertSafePath(cfg), this.reservationPath(assertSafeName(guest.id))], 'GH_CLONE_FAILED', { fence });
  }

  /** The guest's memory reservation on its dom0, from placement until its domain exists. */
  private reservationPath(id: string): string {
    return `${this.o.cfgDir}/${id}.reserve`;
  }

  /**
   * Reservations on `host` written by any gridhost (several processes, each leading other pools,
   * may place on one dom0): `<id> <pool> <MiB>` per file. One older than a clone and a create
   * may take is a crashed placement's leftover and no longer counts.
   */
  private async dom0Reservations(host: string): Promise<{ id: string; pool: string; mb: number }[]> {
    const script = 'now=$(date +%s); for f in "$1"/*.reserve; do [ -f "$f" ] || continue; printf "%s %s %s\\n" "$(stat -c %Y "$f")" "$now" "$(head -c 200 "$f" | head -1)"; done; true';
    const r = await this.run(host, ['sh', '-c', script, 'sh', this.o.cfgDir], 'GH_COMMAND_FAILED');
    const maxAgeS = (this.o.cloneTimeoutMs + this.o.createTimeoutMs) / 1000 + 60;
    const out: { id: string; pool: string; mb: number }[] = [];
    for (const line of r.stdout.split('\n')) {
      const [mtime, now, id, pool, mb] = line.trim().split(/\s+/);
      if (!id || !pool || !/^\d+$/.test(mb ?? '') || Number(now) - Number(mtime) > maxAgeS) continue;
      out.push({ id, pool, mb: Number(mb) });
    }
    return out;
  }

  async discover(): Promise<DiscoveredGuest[]> {
    const found: DiscoveredGuest[] = [];
    for (const host of this.hosts.names()) {
      let domains: XlDomain[];
      let cfgs: Map<string, Record<string, string>>;
      try {
        domains = await this.listDomains(host);
        cfgs = await this.readCfgHeaders(host);
      } catch (e) {
        if (isGridhostError(e) && (e.code === 'GH_HOST_UNREACHABLE' || e.code === 'GH_HOST_KEY_MISMATCH')) continue; // down: skipped
        throw e;
      }
      const seen = new Set<string>();
      for (const d of domains) {
        if (!d.name.startsWith(this.o.namePrefix) || d.domid === 0) continue;
        const id = d.name.slice(this.o.namePrefix.length);
        const header = cfgs.get(id) ?? {};
        seen.add(id);
        const meta: Record<string, string> = { ...withoutGuest(header), host, domain: d.name, domid: String(d.domid) };
        const pool = header['pool'] ?? id.slice(0, Math.max(0, id.lastIndexOf('-')));
        const g: DiscoveredGuest = { id, pool, host, meta, running: true };
        const address = this.addressOf(host, header);
        if (address) g.address = address;
        found.push(g);
      }
      for (const [id, header] of cfgs) {
        if (seen.has(id)) continue;
        const g: DiscoveredGuest = { id, pool: header['pool'] ?? '', host, meta: { ...withoutGuest(header), host }, running: false };
        const address = this.addressOf(host, header);
        if (address) g.address = address;
        found.push(g);
      }
    }
    return found;
  }

  /** The pool's guest.credit again on a running guest gridhost takes up (see Hypervisor.reapply). */
  async reapply(guest: Guest, policy: Policy): Promise<Record<string, string>> {
    const credit = policy.guest.credit;
    const host = guest.meta['host'] ?? guest.host;
    if (!credit || !host || !this.hosts.names().includes(host)) return {};
    return this.applyCredit(host, guest.meta['domain'] ?? this.domainName(guest.id), credit);
  }

  /** `xl sched-credit2` (or `sched-credit`, by the dom0's xen_scheduler) with the pool's weight and cap. */
  private async applyCredit(host: string, domain: string, credit: CreditSettings): Promise<Record<string, string>> {
    const scheduler = await this.schedulerOf(host);
    const argv = creditArgv(this.o.xlPath, scheduler, domain, credit);
    const r = await this.hosts.exec(host, argv, { timeoutMs: this.o.commandTimeoutMs });
    if (r.code !== 0) {
      throw new GridhostError('GH_SCHED_FAILED', `${host}: \`${argv.join(' ')}\` failed (exit ${r.code}): ${xlErrorSummary(r.stderr)}`, { host, domain, exitCode: r.code });
    }
    return creditMeta(scheduler as string, credit);
  }

  /** xl info's xen_scheduler of a dom0 (fixed at its boot: asked once per dom0). */
  private async schedulerOf(host: string): Promise<string | undefined> {
    const known = this.schedulers.get(host);
    if (known !== undefined) return known;
    const info = parseXlInfo((await this.run(host, [this.o.xlPath, 'info'], 'GH_COMMAND_FAILED')).stdout);
    if (info.xenScheduler !== undefined) this.schedulers.set(host, info.xenScheduler);
    return info.xenScheduler;
  }

  /** Each dom0's CPU use and free memory (see Hypervisor.hostFacts). */
  hostFacts(): Promise<HostSample[]> {
    return this.usage.facts();
  }

  async close(): Promise<void> {
    await this.hosts.close();
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
        const r = await this.run(host, [this.o.xlPath, 'list'], 'GH_COMMAND_FAILED');
        names = new Set(parseXlList(r.stdout).map((d) => d.name));
      } catch (e) {
        if (isGridhostError(e) && (e.code === 'GH_HOST_UNREACHABLE' || e.code === 'GH_HOST_KEY_MISMATCH' || e.code === 'GH_COMMAND_TIMEOUT')) continue;
        throw e;
      }
      for (const g of list) if (!names.has(g.meta.domain ?? this.domainName(g.id))) out.add(g.id);
    }
    return out;
  }

  /** A dom0 whose SSH transport failed is down until a command gets through again. */
  hostUp(host: string): boolean {
    return this.hosts.isUp(host);
  }

  // ---------------------------------------------------------------- helpers

  /** The dom0's guest network. */
  networkOf(host: string): GuestNetwork {
    return this.o.networkByHost[host] ?? this.o.network;
  }

  /** ip:port of a guest from its config header (the port it was cloned with; older headers have none). */
  private addressOf(host: string, header: Record<string, string>): string | undefined {
    return header['ip'] ? `${header['ip']}:${header['port'] ?? this.networkOf(host).port}` : undefined;
  }

  private render(template: string, v: { id: string; pool: string; ip: string; mac: string; disk: string; format: string; network: GuestNetwork }): string {
    return renderXlCfg(template, {
      ...networkVars(v.network),
      name: this.domainName(v.id),
      guest: v.id,
      pool: v.pool,
      uuid: uuidFor(v.id),
      mac: v.mac,
      ip: v.ip,
      disk: v.disk,
      format: v.format,
      memory: this.o.memoryMb,
    }, { gateway: "this dom0's network has no gateway (set network.gateway in gridhost.yaml)" });
  }

  private async readTemplate(path: string): Promise<string> {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      throw new GridhostError('GH_TEMPLATE_INVALID', `cannot read xl.cfg template ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { template: path });
    }
  }

  /** Pick a host by free memory and pool spread, and reserve the memory before anyone else picks. */
  private placeAndReserve(id: string, pool: string, needMb: number, fence: DriverFence | undefined, closed: ReadonlySet<string>, saturatedAt?: number): Promise<string> {
    const run = this.placing.then(async () => {
      const listed = new Map<string, XlDomain[]>();
      const loads = await Promise.all(this.hosts.names().map(async (h) => {
        const [load, usage] = await Promise.all([this.hostLoad(h, pool, listed), saturatedAt === undefined ? undefined : this.usage.of(h)]);
        return usage?.cpuRatio === undefined ? load : { ...load, cpuRatio: usage.cpuRatio };
      }));
      if (!loads.some((l) => l.up)) {
        // Every dom0 refused for its host key: say so (an operator must check the keys, not the network).
        const states = this.hosts.states();
        const code = states.length > 0 && states.every((s) => s.code === 'GH_HOST_KEY_MISMATCH') ? 'GH_HOST_KEY_MISMATCH' : 'GH_HOST_UNREACHABLE';
        // Each host's own reason: its connection's error, else what its placement query met
        // (a dom0 that answers SSH but whose xl info timed out is not "down").
        const why = (name: string, error?: string): string => (error ?? loads.find((l) => l.name === name)?.error ?? 'down').replace(`${name}: `, '');
        throw new GridhostError(code, `no dom0 answers: ${states.map((s) => `${s.name}: ${why(s.name, s.error)}`).join('; ')}`);
      }
      const host = placeOnOpenHost(loads, needMb, closed, saturatedAt);
      // On dom0 too, for the other gridhost processes placing there (see dom0Reservations).
      await this.run(host, ['sh', '-c', 'mkdir -p "$1" && printf "%s\\n" "$2" > "$1/$3.reserve"', 'sh', this.o.cfgDir, `${id} ${pool} ${needMb}`, id], 'GH_CLONE_FAILED', { fence });
      this.reserved.set(id, { host, mb: needMb });
      const domains = listed.get(host);
      if (domains) this.placedWith.set(id, domains);
      return host;
    });
    this.placing = run.catch(() => undefined);
    return run;
  }

  private async hostLoad(host: string, pool: string, listed: Map<string, XlDomain[]>): Promise<HostLoad> {
    try {
      const [info, domains, onDom0] = await Promise.all([
        this.run(host, [this.o.xlPath, 'info'], 'GH_CLONE_FAILED').then((r) => parseXlInfo(r.stdout)),
        this.listDomains(host),
        this.dom0Reservations(host),
      ]);
      listed.set(host, domains);
      const names = new Set(domains.map((d) => d.name));
      let free = info.freeMemoryMb;
      let ofPool = domains.filter((d) => d.name.startsWith(`${this.o.namePrefix}${pool}-`)).length;
      for (const [gid, r] of this.reserved) {
        if (r.host !== host || names.has(this.domainName(gid))) continue;
        free -= r.mb;
        if (gid.startsWith(`${pool}-`)) ofPool++;
      }
      // Another process's guests between placement and xl create (ours are counted above).
      for (const r of onDom0) {
        if (this.reserved.has(r.id) || names.has(this.domainName(r.id))) continue;
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

  private async listDomains(host: string): Promise<XlDomain[]> {
    const r = await this.run(host, [this.o.xlPath, 'list', '-l'], 'GH_COMMAND_FAILED');
    return parseXlListLong(r.stdout);
  }

  /** Guest id -> `# gridhost.*` header of every config in cfgDir. */
  private async readCfgHeaders(host: string): Promise<Map<string, Record<string, string>>> {
    const script = 'for f in "$1"/*.cfg; do [ -f "$f" ] || continue; echo "#### $f"; grep "^# gridhost\\." "$f"; done; true';
    const r = await this.run(host, ['sh', '-c', script, 'sh', this.o.cfgDir], 'GH_COMMAND_FAILED');
    const out = new Map<string, Record<string, string>>();
    for (const chunk of r.stdout.split(/^#### /m).slice(1)) {
      const header = parseCfgHeader(chunk);
      const file = chunk.slice(0, chunk.indexOf('\n'));
      const id = header['guest'] ?? file.slice(file.lastIndexOf('/') + 1).replace(/\.cfg$/, '');
      out.set(id, header);
    }
    return out;
  }

  /** IPs and MACs taken on a host: by its domains (`listed` if placement just read them; a domain
   *  gridhost creates after that has its config, which is read here, fresh) and by our configs. */
  private async addressesInUse(host: string, listed?: XlDomain[]): Promise<TakenAddresses> {
    const [domains, cfgs] = await Promise.all([listed ?? this.listDomains(host), this.readCfgHeaders(host)]);
    return takenAddresses(domains, cfgs.values());
  }

  /** Run and require exit 0; a non-zero exit becomes `failCode` with xl's/the tool's stderr. */
  private async run(host: string, argv: string[], failCode: 'GH_CLONE_FAILED' | 'GH_BOOT_FAILED' | 'GH_COMMAND_FAILED', o: { timeoutMs?: number; stdin?: string; fence?: DriverFence | undefined } = {}) {
    const opts: { timeoutMs: number; stdin?: string } = { timeoutMs: o.timeoutMs ?? this.o.commandTimeoutMs };
    if (o.stdin !== undefined) opts.stdin = o.stdin;
    const r = await this.hosts.exec(host, this.fenced(o.fence, argv), opts);
    this.throwIfFenced(host, r);
    if (r.code !== 0) {
      throw new GridhostError(failCode, `${host}: \`${argv.join(' ')}\` failed (exit ${r.code}): ${r.stderr.trim().slice(0, 500) || '(no error output)'}`, {
        host,
        exitCode: r.code,
      });
    }
    return r;
  }

  /** `argv` behind the pool's fence on dom0 when the call carries one (dom0-fence.ts). */
  private fenced(fence: DriverFence | undefined, argv: string[]): string[] {
    return fence ? fencedArgv(`${this.o.cfgDir}/.fence`, fence, argv) : argv;
  }

  /** The fence's refusal is GH_FENCED, whatever the step: nothing was done. */
  private throwIfFenced(host: string, r: { code: number | null; stderr: string }): void {
    if (isFencedRefusal(r)) throw new GridhostError('GH_FENCED', `${host}: ${fencedReason(r.stderr)}; nothing was done`, { host });
  }

  private async bestEffort(host: string, argv: string[], fence?: DriverFence): Promise<void> {
    try {
      await this.hosts.exec(host, this.fenced(fence, argv), { timeoutMs: this.o.commandTimeoutMs });
    } catch {
      // the caller is already failing; its meta (or discover) names what may remain
    }
  }

  private async destroyQuietly(host: string, domain: string, fence?: DriverFence): Promise<void> {
    const r = await this.hosts.exec(host, this.fenced(fence, [this.o.xlPath, 'destroy', domain]), { timeoutMs: this.o.destroyTimeoutMs });
    this.throwIfFenced(host, r);
    if (r.code !== 0 && !isNoSuchDomain(r.stderr)) {
      throw new GridhostError('GH_STOP_FAILED', `${host}: xl destroy ${domain} failed (exit ${r.code}): ${r.stderr.trim()}`, { host, domain });
    }
  }

  /** Whether a process whose command line contains `text` runs on the host. */
  private async processRunning(host: string, text: string): Promise<boolean> {
    return (await this.hosts.exec(host, ['bash', '-c', FIND_PROCESS], { stdin: `${text}\n`, timeoutMs: this.o.commandTimeoutMs })).code === 0;
  }

  /** Poll `xl list <domain>` until xl says it does not exist (a shut-down domain lingers 2-3 s). */
  private async waitGone(host: string, domain: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.hosts.exec(host, [this.o.xlPath, 'list', domain], { timeoutMs: this.o.commandTimeoutMs });
      if (r.code !== 0 && isNoSuchDomain(r.stderr)) return true;
      if (Date.now() >= deadline) return false;
      await this.o.sleep(250);
    }
  }
}

/**
 * Exit 0 if a process's command line contains the text read from stdin. Builtins only (dom0s
 * need not have pgrep: the lab's has not; every fork is dear in an emulated dom0), and the text
 * never reaches this script's own command line, so it cannot find itself.
 */
const FIND_PROCESS = `read -r t || exit 1
for f in /proc/[0-9]*/cmdline; do
  mapfile -d '' a < "$f" 2>/dev/null || continue
  case "\${a[*]}" in *"$t"*) exit 0;; esac
done
exit 1`;

function withoutGuest(h: Record<string, string>): Record<string, string> {
  const { guest: _g, ...rest } = h;
  return rest;
}

function templateDigest(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
