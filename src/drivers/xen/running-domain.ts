// What is done to a running domain in place, without stopping it: `xl pause` / `xl unpause` (the
// warm pool) and `xl vcpu-set` / `xl mem-set` (xen-resize.ts; policy guest.vertical), each behind
// the dom0 fence when the call carries one: a deposed leader must not wake a warm guest (it would
// serve unregistered, or twice) nor freeze a serving one.
import type { Guest } from '../../domain/types.ts';
import { GridhostError } from '../../errors/errors.ts';
import type { DriverFence, StepResult } from '../hypervisor/hypervisor.ts';
import type { Dom0Commands } from './dom0-commands.ts';
import { resizeDomain } from './xen-resize.ts';
import type { XenDriverSettings } from './xen-hypervisor-options.ts';
import { parseXlList, xlErrorSummary } from './xl-parse.ts';

export class RunningDomain {
  constructor(
    private readonly cmd: Dom0Commands,
    private readonly o: XenDriverSettings,
  ) {}

  async resize(guest: Guest, size: { vcpus: number; memoryMb: number }, fence?: DriverFence): Promise<StepResult> {
    const host = guest.meta['host'] ?? guest.host;
    if (!host || !this.cmd.hosts.names().includes(host)) throw new GridhostError('GH_RESIZE_FAILED', `guest ${guest.id} has no dom0 to resize it on`, { guest: guest.id });
    const domain = guest.meta['domain'] ?? this.cmd.domainName(guest.id);
    const current = { vcpus: Number(guest.meta['vcpus']), memoryMb: Number(guest.meta['memory_mb']) };
    const exec = async (argv: string[]) => {
      const r = await this.cmd.hosts.exec(host, this.cmd.fenced(fence, argv), { timeoutMs: this.o.commandTimeoutMs });
      this.cmd.throwIfFenced(host, r);
      return r;
    };
    return { meta: await resizeDomain(exec, { host, xl: this.o.xlPath, domain, current, want: size }) };
  }

  /** `xl pause` (the warm pool): the domain keeps its memory (counted on its dom0 as any
   *  domain's) and runs no vCPU until unpause(). */
  async pause(guest: Guest, fence?: DriverFence): Promise<StepResult> {
    const { host, domain } = this.domainOf(guest, 'pause');
    await this.cmd.run(host, [this.o.xlPath, 'pause', domain], 'GH_BOOT_FAILED', { fence });
    return { meta: { paused: '1' } };
  }

  /** `xl unpause`. Xen refuses to unpause a domain that is not paused: when it does, `xl list`
   *  says whether the domain runs (success) or is gone or still paused (GH_BOOT_FAILED). */
  async unpause(guest: Guest, fence?: DriverFence): Promise<StepResult> {
    const { host, domain } = this.domainOf(guest, 'unpause');
    const r = await this.cmd.hosts.exec(host, this.cmd.fenced(fence, [this.o.xlPath, 'unpause', domain]), { timeoutMs: this.o.commandTimeoutMs });
    this.cmd.throwIfFenced(host, r);
    if (r.code !== 0) {
      const l = await this.cmd.hosts.exec(host, [this.o.xlPath, 'list', domain], { timeoutMs: this.o.commandTimeoutMs });
      const state = l.code === 0 ? parseXlList(l.stdout).find((d) => d.name === domain)?.state : undefined;
      if (state === undefined || state.includes('p')) {
        throw new GridhostError('GH_BOOT_FAILED', `${host}: xl unpause ${domain} failed (exit ${r.code}): ${xlErrorSummary(r.stderr)}`, { host, domain, exitCode: r.code });
      }
    }
    return { meta: { paused: '0' } };
  }

  private domainOf(guest: Guest, what: string): { host: string; domain: string } {
    const host = guest.meta['host'] ?? guest.host;
    if (!host || !this.cmd.hosts.names().includes(host)) throw new GridhostError('GH_BOOT_FAILED', `guest ${guest.id} has no dom0 to ${what} it on`, { guest: guest.id });
    return { host, domain: guest.meta['domain'] ?? this.cmd.domainName(guest.id) };
  }
}
