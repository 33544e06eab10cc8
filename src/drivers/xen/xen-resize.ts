// Vertical first on Xen (policy guest.vertical): a running domain's vCPUs (`xl vcpu-set DOMAIN
// N`) and memory (`xl mem-set DOMAIN NNNm`), within the maxvcpus/maxmem its config was created
// with; and the size facts every guest's record carries from its rendered config
// (decision/vertical-step.ts SIZE_META). Argv arrays only, numbers validated here.
import { SIZE_META } from '../../decision/vertical-step.ts';
import { GridhostError } from '../../errors/errors.ts';
import { assertSafeName, assertSafePath } from '../ssh/shell-quote.ts';
import { cfgMemoryMb } from './xl-cfg.ts';

/** The last `KEY = N` of a rendered config (xl reads the last of a repeated key). */
function cfgInt(cfgText: string, key: string): number | undefined {
  const all = [...cfgText.matchAll(new RegExp(`^\\s*${key}\\s*=\\s*"?(\\d+)"?\\s*(#.*)?$`, 'gm'))];
  const last = all[all.length - 1];
  return last ? Number(last[1]) : undefined;
}

/** The size a guest made from `cfgText` starts at (vcpus, memory) and may grow to (maxvcpus and
 *  maxmem, each defaulting to vcpus/memory as xl does). `defaultMemoryMb`: the driver's memory
 *  for a template without `memory =`. */
export function cfgSize(cfgText: string, defaultMemoryMb: number): { vcpus: number; maxVcpus: number; memoryMb: number; maxMemoryMb: number } {
  const vcpus = cfgInt(cfgText, 'vcpus') ?? 1;
  const memoryMb = cfgMemoryMb(cfgText) ?? defaultMemoryMb;
  return { vcpus, maxVcpus: Math.max(vcpus, cfgInt(cfgText, 'maxvcpus') ?? vcpus), memoryMb, maxMemoryMb: Math.max(memoryMb, cfgInt(cfgText, 'maxmem') ?? memoryMb) };
}

/** The size facts of a guest made from `cfgText`: its vcpus/memory now and at most, and its
 *  template's size (the floor of a step down), as cfgSize reads them. */
export function cfgSizeMeta(cfgText: string, defaultMemoryMb: number): Record<string, string> {
  const { vcpus, maxVcpus, memoryMb: memory, maxMemoryMb: maxMem } = cfgSize(cfgText, defaultMemoryMb);
  return {
    [SIZE_META.vcpus]: String(vcpus),
    [SIZE_META.maxVcpus]: String(maxVcpus),
    [SIZE_META.baseVcpus]: String(vcpus),
    [SIZE_META.memoryMb]: String(memory),
    [SIZE_META.maxMemoryMb]: String(maxMem),
    [SIZE_META.baseMemoryMb]: String(memory),
  };
}

/** The most memory a guest of `cfgText` may take (its maxmem): what placement reserves, so a step up never overcommits its dom0. */
export function cfgMaxMemoryMb(cfgText: string): number | undefined {
  const memory = cfgMemoryMb(cfgText);
  const max = cfgInt(cfgText, 'maxmem');
  return memory === undefined ? max : Math.max(memory, max ?? memory);
}

function positiveInt(n: number, what: string): string {
  if (!Number.isInteger(n) || n < 1) throw new GridhostError('GH_RESIZE_FAILED', `${what} must be a whole number >= 1, not ${n}`);
  return String(n);
}

export const vcpuSetArgv = (xl: string, domain: string, vcpus: number): string[] => [assertSafePath(xl), 'vcpu-set', assertSafeName(domain), positiveInt(vcpus, 'vcpus')];
export const memSetArgv = (xl: string, domain: string, memoryMb: number): string[] => [assertSafePath(xl), 'mem-set', assertSafeName(domain), `${positiveInt(memoryMb, 'memory')}m`];

export type Exec = (argv: string[]) => Promise<{ code: number | null; stderr: string }>;

/**
 * Set a domain's size: vCPUs first, then memory, only what differs from `current`. A refusal is
 * GH_RESIZE_FAILED naming the command; when the vCPUs were set and the memory was refused,
 * details.meta says the size the domain has now. `exec` runs behind the dom0 fence (GH_FENCED
 * is its caller's to throw).
 */
export async function resizeDomain(exec: Exec, o: { host: string; xl: string; domain: string; current: { vcpus: number; memoryMb: number }; want: { vcpus: number; memoryMb: number } }): Promise<Record<string, string>> {
  const meta: Record<string, string> = {};
  const fail = (argv: string[], r: { code: number | null; stderr: string }) =>
    new GridhostError('GH_RESIZE_FAILED', `${o.host}: \`${argv.join(' ')}\` failed (exit ${r.code}): ${r.stderr.trim().split('\n').pop()?.slice(0, 300) || '(no error output)'}`, { host: o.host, domain: o.domain, exitCode: r.code, meta: { ...meta } });
  if (o.want.vcpus !== o.current.vcpus) {
    const argv = vcpuSetArgv(o.xl, o.domain, o.want.vcpus);
    const r = await exec(argv);
    if (r.code !== 0) throw fail(argv, r);
    meta[SIZE_META.vcpus] = String(o.want.vcpus);
  }
  if (o.want.memoryMb !== o.current.memoryMb) {
    const argv = memSetArgv(o.xl, o.domain, o.want.memoryMb);
    const r = await exec(argv);
    if (r.code !== 0) throw fail(argv, r);
    meta[SIZE_META.memoryMb] = String(o.want.memoryMb);
  }
  return meta;
}
