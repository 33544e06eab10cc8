// (e) of the xen bench: vertical first on the Xen lab, through XenHypervisor. Cold: clone() +
// boot() + the guest's boot, to the first /healthz 200 (a new guest's clone-to-serving). Vertical:
// resize() of a serving guest from 1 to 2 vCPUs (`xl vcpu-set`, and `xl mem-set` to its maxmem),
// to the moment the guest has the vCPU online (`xl vcpu-list`: vCPU 1 on a CPU, not offline; the
// lab guest's init onlines hot-plugged vCPUs every 5 s, scripts/xen-lab/files/domU/rc). Shared by
// npm run bench:xen and test/xen/vertical-xen.test.ts.
import type { CloneMethod, Policy } from '../../src/domain/policy.ts';
import type { Guest } from '../../src/domain/types.ts';
import type { XenDrivers } from '../../src/drivers/xen/create-xen-drivers.ts';

export interface VerticalBenchDeps {
  drivers: XenDrivers;
  host: string;
  pool: string;
  /** A policy whose template has vcpus = 1, maxvcpus = 2 (and maxmem above memory). */
  policy: (image: string, clone: CloneMethod) => Policy;
  image: string;
  /** How the guests are cloned (default reflink: the bench makes the lab's XFS store first). */
  clone?: CloneMethod;
  log: (line: string) => void;
}

export interface VerticalRun {
  id: string;
  coldMs: number;
  /** resize() itself (xl vcpu-set + xl mem-set). */
  resizeMs: number;
  /** From resize() to the guest running vCPU 1. */
  vcpuOnlineMs: number;
  /** The guest's record after the step (vcpus, memory_mb). */
  meta: Record<string, string>;
  /** `xl vcpu-list` once online. */
  vcpuList: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sec = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
};

async function firstOk(d: XenDrivers, g: Guest, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await d.hypervisor.httpGet(g, '/healthz', 2_000).then((r) => r.status === 200, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`guest ${g.id} not healthy within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** `xl vcpu-list DOMAIN` rows: Name ID VCPU CPU State Time(s) Affinity. vCPU `n` is online when it has a CPU and its state has no `p`. */
export function vcpuOnline(vcpuList: string, domain: string, n: number): boolean {
  const row = vcpuList.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0] === domain && f[2] === String(n));
  return row !== undefined && row[3] !== '-' && !(row[4] ?? 'p').includes('p');
}

async function waitVcpu(d: XenDrivers, host: string, domain: string, n: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await d.hosts.exec(host, ['xl', 'vcpu-list', domain], { timeoutMs: 30_000 });
    if (r.code === 0 && vcpuOnline(r.stdout, domain, n)) return r.stdout;
    if (Date.now() > deadline) throw new Error(`vCPU ${n} of ${domain} not online within ${timeoutMs / 1000} s:\n${r.stdout}${r.stderr}`);
    await sleep(100);
  }
}

export async function verticalRuns(o: VerticalBenchDeps, runs = 3): Promise<VerticalRun[]> {
  const d = o.drivers;
  const out: VerticalRun[] = [];
  const made: Guest[] = [];
  try {
    for (let i = 1; i <= runs; i++) {
      const spec = { id: `${o.pool}-v${i}`, pool: o.pool, policy: o.policy(o.image, o.clone ?? 'reflink') };
      const g: Guest = { id: spec.id, pool: o.pool, state: 'cloning', driver: 'xen', host: o.host, createdAt: Date.now(), updatedAt: Date.now(), meta: {} };
      made.push(g);
      const t0 = performance.now();
      const c = await d.hypervisor.clone(spec);
      Object.assign(g.meta, c.meta);
      g.address = c.address ?? '';
      Object.assign(g.meta, (await d.hypervisor.boot(spec, g.meta)).meta);
      await firstOk(d, g, 600_000);
      const coldMs = performance.now() - t0;
      g.state = 'healthy';
      const domain = g.meta['domain']!;
      const maxVcpus = Number(g.meta['maxvcpus']);
      if (!(maxVcpus >= 2)) throw new Error(`template of ${g.id} has maxvcpus ${g.meta['maxvcpus']}: no room for a vertical step`);
      const t1 = performance.now();
      const r = await d.hypervisor.resize(g, { vcpus: 2, memoryMb: Number(g.meta['maxmem_mb']) });
      const resizeMs = performance.now() - t1;
      Object.assign(g.meta, r.meta);
      const vcpuList = await waitVcpu(d, o.host, domain, 1, 60_000);
      const run = { id: g.id, coldMs, resizeMs, vcpuOnlineMs: performance.now() - t1, meta: { ...g.meta }, vcpuList };
      out.push(run);
      o.log(`xen-bench: ${g.id} cold ${sec(coldMs)} s; vertical: resize ${sec(resizeMs)} s, vCPU online ${sec(run.vcpuOnlineMs)} s`);
      // Back down (the step a scale-in takes first).
      Object.assign(g.meta, (await d.hypervisor.resize(g, { vcpus: 1, memoryMb: Number(g.meta['base_memory_mb']) })).meta);
    }
  } finally {
    for (const g of made.reverse()) {
      await d.hypervisor.stop(g, 120_000).catch((e: unknown) => o.log(`xen-bench: stop of ${g.id} failed: ${(e as Error).message}`));
      await d.hypervisor.deleteClone(g).catch((e: unknown) => o.log(`xen-bench: deleteClone of ${g.id} failed: ${(e as Error).message}`));
    }
  }
  return out;
}

export async function verticalVsCold(o: VerticalBenchDeps, runs = 3): Promise<string[]> {
  const r = await verticalRuns(o, runs);
  const cold = median(r.map((x) => x.coldMs));
  const online = median(r.map((x) => x.vcpuOnlineMs));
  return [
    `(e) vertical first: capacity added through XenHypervisor, seconds (median of ${runs}):`,
    `  horizontal: a new guest's clone() + boot() + guest boot to the first /healthz 200: ${sec(cold)} s   (runs ${r.map((x) => sec(x.coldMs)).join(', ')})`,
    `  vertical: resize() 1 -> 2 vCPUs (xl vcpu-set, xl mem-set) to vCPU 1 online in the guest (xl vcpu-list): ${sec(online)} s   target < the cold path: ${online < cold ? 'PASS' : 'MISS'}   (runs ${r.map((x) => sec(x.vcpuOnlineMs)).join(', ')}; the commands alone ${sec(median(r.map((x) => x.resizeMs)))} s)`,
  ];
}
