// A guest's credit scheduler parameters (policy guest.credit) as xl sets them, and its CPU pinning
// (`cpus =` in the xl.cfg template). Pure: argv arrays (never a shell line) and checks.
import type { CreditSettings } from '../../domain/policy.ts';
import { GridhostError } from '../../errors/errors.ts';
import { assertSafeName, assertSafePath } from '../ssh/shell-quote.ts';

/** The xl subcommand that sets weight and cap under `scheduler` (xl info's xen_scheduler). */
function creditCommand(scheduler: string | undefined): 'sched-credit' | 'sched-credit2' {
  switch (scheduler) {
    case 'credit':
      return 'sched-credit';
    case 'credit2':
      return 'sched-credit2';
    default:
      throw new GridhostError('GH_SCHED_FAILED', `the dom0 runs the ${scheduler ?? 'unknown'} scheduler, which has no credit weight or cap (policy guest.credit needs credit or credit2)`, { scheduler: scheduler ?? '' });
  }
}

/** `xl sched-credit2 -d DOMAIN -w WEIGHT -c CAP` (or sched-credit), only what the policy sets. */
export function creditArgv(xlPath: string, scheduler: string | undefined, domain: string, credit: CreditSettings): string[] {
  const argv = [assertSafePath(xlPath), creditCommand(scheduler), '-d', assertSafeName(domain)];
  // Numbers the policy validated; String() of an integer is digits only.
  if (credit.weight !== undefined) argv.push('-w', String(Math.trunc(credit.weight)));
  if (credit.cap !== undefined) argv.push('-c', String(Math.trunc(credit.cap)));
  return argv;
}

/** The guest meta recording what was applied (shown by the API). */
export function creditMeta(scheduler: string, credit: CreditSettings): Record<string, string> {
  return { scheduler, ...(credit.weight !== undefined ? { creditWeight: String(credit.weight) } : {}), ...(credit.cap !== undefined ? { creditCap: String(credit.cap) } : {}) };
}

/** One cpulist as xl reads it: "all", "3", "0-3", "^1", "nodes:0", "0-3,^2". */
const CPULIST = /^(all|\^?\d{1,4}(-\d{1,4})?|nodes:\^?\d{1,3}(-\d{1,3})?)(,(\^?\d{1,4}(-\d{1,4})?|nodes:\^?\d{1,3}(-\d{1,3})?))*$/;

/**
 * The `cpus =` (hard pinning) of a rendered config, checked: a quoted cpulist or a list of quoted
 * cpulists (one per vCPU). Undefined when the template does not pin. A value xl would reject (or
 * read differently) is GH_TEMPLATE_INVALID before anything is cloned.
 */
export function cfgCpus(cfgText: string): string | undefined {
  // xl reads the last assignment of a repeated key (see cfgMemoryMb).
  const all = [...cfgText.matchAll(/^\s*cpus\s*=\s*(.*?)\s*(#.*)?$/gm)];
  const last = all[all.length - 1];
  if (!last) return undefined;
  const raw = last[1] ?? '';
  const quoted = (v: string): string | undefined => /^"([^"]*)"$/.exec(v)?.[1];
  const one = quoted(raw);
  const list = one === undefined && /^\[.*\]$/.test(raw) ? raw.slice(1, -1).split(',').map((x) => quoted(x.trim())) : undefined;
  const values = one !== undefined ? [one] : list;
  if (values === undefined || values.length === 0 || values.some((v) => v === undefined || !CPULIST.test(v.replace(/\s+/g, '')))) {
    throw new GridhostError('GH_TEMPLATE_INVALID', `xl.cfg cpus = ${raw.slice(0, 60)}: must be a quoted cpulist such as "2", "0-3", "0,2-3", "^1", "nodes:0" or "all", or a list of them (one per vCPU)`, { key: 'cpus' });
  }
  return one !== undefined ? one : (values as string[]).join(' ');
}
