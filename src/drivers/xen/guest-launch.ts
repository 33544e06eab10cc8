// The launch path of a Xen guest: clone (place it, render its xl.cfg with a free IP and MAC of
// its dom0, copy the base image) and boot (`xl create`, its domid, the pool's credit). The
// rendered config starts with `# gridhost.*` header lines naming its pool, IP, MAC and clone,
// so discovery and a restarted gridhost find and clean up everything launched.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Policy } from '../../domain/policy.ts';
import { IMAGE_DIGEST_META, TEMPLATE_DIGEST_META, type SourceDigest } from '../../decision/rollout-plan.ts';
import { GridhostError, isGridhostError, wrapError } from '../../errors/errors.ts';
import type { GuestSpec, StepResult } from '../hypervisor/hypervisor.ts';
import { assertSafeName, assertSafePath } from '../ssh/shell-quote.ts';
import { clonePlan } from './clone-commands.ts';
import type { Dom0Commands } from './dom0-commands.ts';
import type { DomainCredit } from './domain-credit.ts';
import { takenAddresses, type TakenAddresses } from './guest-addresses.ts';
import { describeRange, freeGuestIp, networkVars, type GuestNetwork } from './guest-network.ts';
import { KeyedLock } from './keyed-lock.ts';
import type { PlaceAndReserve } from './place-and-reserve.ts';
import { cfgCpus } from './xen-sched.ts';
import { cfgMaxMemoryMb, cfgSizeMeta } from './xen-resize.ts';
import type { XenDriverSettings } from './xen-hypervisor-options.ts';
import { cfgHeader, renderXlCfg, uniqueMac, uuidFor } from './xl-cfg.ts';
import { classifyXlError, xlErrorSummary, type XlDomain } from './xl-parse.ts';

export class GuestLaunch {
  /** Clones on one dom0 run one at a time (each picks a free IP/MAC from what the last wrote). */
  private readonly cloneLock = new KeyedLock();
  /** So do `xl create`s: parallel ones contend for the block hotplug script's lock and time out
   *  in libxl (seen on the lab: "hotplug timeout" with two creates at once). */
  private readonly createLock = new KeyedLock();

  constructor(
    private readonly cmd: Dom0Commands,
    private readonly places: PlaceAndReserve,
    private readonly credit: DomainCredit,
    private readonly o: XenDriverSettings,
  ) {}

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
    const host = await this.places.place(id, spec.pool, needMb, spec.fence, new Set(spec.avoidHosts ?? []), spec.policy.contention?.saturatedAt);
    try {
      const made = await this.cloneLock.run(host, () => this.cloneOn(host, spec, id, image, template));
      return { ...made, meta: { ...made.meta, [TEMPLATE_DIGEST_META]: templateDigest(template), ...(cpus !== undefined ? { cpus } : {}), ...cfgSizeMeta(probe, this.o.memoryMb) } };
    } catch (e) {
      await this.places.unreserve(id, host, spec.fence);
      // Keep to the interface's clone codes: a failed listing or parse is a failed clone.
      if (isGridhostError(e) && e.code === 'GH_COMMAND_FAILED') throw new GridhostError('GH_CLONE_FAILED', e.message, { ...e.details, host }, { cause: e });
      throw isGridhostError(e) ? e : wrapError('GH_CLONE_FAILED', e, { host });
    }
  }

  private async cloneOn(host: string, spec: GuestSpec, id: string, image: string, template: string): Promise<StepResult> {
    const plan = clonePlan(spec.policy.guest.clone, image, id, { snapshotSize: this.o.lvmSnapshotSize });
    const cfgPath = `${this.o.cfgDir}/${id}.cfg`;
    const { ips, macs } = await this.addressesInUse(host, this.places.takeListed(id));
    const network = this.cmd.networkOf(host);
    const ip = freeGuestIp(network, ips);
    if (ip === undefined) throw new GridhostError('GH_OUT_OF_CAPACITY', `${host}: every guest address in ${describeRange(network)} is taken`, { host });
    const mac = uniqueMac(id, macs);
    const meta: Record<string, string> = {
      host,
      domain: this.cmd.domainName(id),
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
    await this.cmd.run(host, ['mkdir', '-p', this.o.cfgDir], 'GH_CLONE_FAILED');
    await this.cmd.run(host, ['sh', '-c', 'cat > "$1.tmp" && mv -f "$1.tmp" "$1"', 'sh', cfgPath], 'GH_CLONE_FAILED', { stdin: text, fence });
    try {
      // Refuse to overwrite an existing disk (a leftover of a crash must go through deleteClone),
      // except a complete copy of the base: the guest id is new, so that can only be this very
      // command's own earlier run (an exec the SSH layer retried after the server reported it
      // refused, though it had started it; seen on the Xen lab's Dropbear under load).
      const sameAsBase = plan.format === 'raw' && (plan.method === 'copy' || plan.method === 'reflink' || plan.method === 'auto') ? image : '';
      const create = ['sh', '-c', 'if [ -e "$1" ]; then [ -n "$2" ] && cmp -s "$2" "$1" && exit 0; echo "clone target $1 already exists" >&2; exit 17; fi; shift 2; exec "$@"', 'sh', plan.target, sameAsBase, ...plan.create];
      await this.cmd.run(host, create, 'GH_CLONE_FAILED', { timeoutMs: this.o.cloneTimeoutMs, fence });
    } catch (e) {
      // Nothing left behind: the cfg, and a partial clone unless it was someone else's file.
      const existed = isGridhostError(e) && e.details['exitCode'] === 17;
      await this.cmd.bestEffort(host, existed ? ['rm', '-f', '--', cfgPath] : ['sh', '-c', 'rm -f -- "$1"; shift; "$@"', 'sh', cfgPath, ...plan.remove], fence);
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
    const r = await this.cmd.hosts.exec(host, ['stat', '-L', '-c', '%s:%Y:%i', '--', image], { timeoutMs: this.o.commandTimeoutMs });
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
    const domain = meta['domain'] ?? this.cmd.domainName(spec.id);
    try {
      const create = [this.o.xlPath, 'create', assertSafePath(cfg)];
      let r;
      try {
        r = await this.createLock.run(host, () => this.cmd.hosts.exec(host, this.cmd.fenced(spec.fence, create), { timeoutMs: this.o.createTimeoutMs }));
      } catch (e) {
        if (isGridhostError(e) && e.code === 'GH_COMMAND_TIMEOUT') await this.cmd.destroyQuietly(host, domain, spec.fence);
        throw e;
      }
      this.cmd.throwIfFenced(host, r);
      if (r.code !== 0) {
        const code = classifyXlError(r.stderr, r.code);
        // Name in use means the domain is someone else's: never destroy it.
        if (code !== 'GH_NAME_IN_USE') await this.cmd.destroyQuietly(host, domain, spec.fence);
        throw new GridhostError(code, `${host}: xl create ${cfg} failed (exit ${r.code}): ${xlErrorSummary(r.stderr)}`, {
          host,
          exitCode: r.code,
          stderr: r.stderr.slice(0, 4000),
        });
      }
      const id = await this.cmd.run(host, [this.o.xlPath, 'domid', domain], 'GH_BOOT_FAILED');
      // The pool's credit weight and cap before the guest serves (a failure fails the boot: the
      // controller stops the domain and deletes its clone, as for any failed boot).
      const credit = spec.policy.guest.credit;
      const applied = credit ? await this.credit.apply(host, domain, credit, spec.fence) : {};
      const out: StepResult = { meta: { domid: id.stdout.trim(), ...applied }, host };
      const address = this.cmd.addressOf(host, meta);
      if (address) out.address = address;
      return out;
    } finally {
      // The domain exists now (xl list counts it) or the create failed: the reservation is done.
      this.places.forget(spec.id);
      await this.cmd.bestEffort(host, ['rm', '-f', '--', this.places.reservationPath(assertSafeName(spec.id))], spec.fence);
    }
  }

  private render(template: string, v: { id: string; pool: string; ip: string; mac: string; disk: string; format: string; network: GuestNetwork }): string {
    return renderXlCfg(template, {
      ...networkVars(v.network),
      name: this.cmd.domainName(v.id),
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

  /** IPs and MACs taken on a host: by its domains (`listed` if placement just read them; a domain
   *  gridhost creates after that has its config, which is read here, fresh) and by our configs. */
  private async addressesInUse(host: string, listed?: XlDomain[]): Promise<TakenAddresses> {
    const [domains, cfgs] = await Promise.all([listed ?? this.cmd.listDomains(host), this.cmd.readCfgHeaders(host)]);
    return takenAddresses(domains, cfgs.values());
  }
}

function templateDigest(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
