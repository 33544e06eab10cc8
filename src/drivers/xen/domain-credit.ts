// The pool's credit weight and cap (policy guest.credit) set on a domain with `xl sched-credit2`
// or `xl sched-credit`, by the dom0's xen_scheduler (xen-sched.ts builds the argv): at boot, and
// again on a running guest gridhost takes up (Hypervisor.reapply); behind the dom0 fence when the
// call carries one, as every command that changes a pool's guests.
import type { CreditSettings } from '../../domain/policy.ts';
import type { DriverFence } from '../hypervisor/hypervisor.ts';
import { GridhostError } from '../../errors/errors.ts';
import type { Dom0Commands } from './dom0-commands.ts';
import { creditArgv, creditMeta } from './xen-sched.ts';
import type { XenDriverSettings } from './xen-hypervisor-options.ts';
import { parseXlInfo, xlErrorSummary } from './xl-parse.ts';

export class DomainCredit {
  /** Each dom0's xen_scheduler, once known. */
  private readonly schedulers = new Map<string, string>();

  constructor(
    private readonly cmd: Dom0Commands,
    private readonly o: XenDriverSettings,
  ) {}

  /** `xl sched-credit2` (or `sched-credit`, by the dom0's xen_scheduler) with the pool's weight and cap. */
  async apply(host: string, domain: string, credit: CreditSettings, fence?: DriverFence): Promise<Record<string, string>> {
    const scheduler = await this.schedulerOf(host);
    const argv = creditArgv(this.o.xlPath, scheduler, domain, credit);
    const r = await this.cmd.hosts.exec(host, this.cmd.fenced(fence, argv), { timeoutMs: this.o.commandTimeoutMs });
    this.cmd.throwIfFenced(host, r);
    if (r.code !== 0) {
      throw new GridhostError('GH_SCHED_FAILED', `${host}: \`${argv.join(' ')}\` failed (exit ${r.code}): ${xlErrorSummary(r.stderr)}`, { host, domain, exitCode: r.code });
    }
    return creditMeta(scheduler as string, credit);
  }

  /** xl info's xen_scheduler of a dom0 (fixed at its boot: asked once per dom0). */
  private async schedulerOf(host: string): Promise<string | undefined> {
    const known = this.schedulers.get(host);
    if (known !== undefined) return known;
    const info = parseXlInfo((await this.cmd.run(host, [this.o.xlPath, 'info'], 'GH_COMMAND_FAILED')).stdout);
    if (info.xenScheduler !== undefined) this.schedulers.set(host, info.xenScheduler);
    return info.xenScheduler;
  }
}
