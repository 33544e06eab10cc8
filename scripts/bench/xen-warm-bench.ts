// (d) of the xen bench: the warm pool's two paths on the Xen lab, through XenHypervisor. Cold:
// clone + xl create + the guest's boot, from clone() to the first /healthz 200. Warm: a guest
// booted, healthy and `xl pause`d beforehand; from unpause() (`xl unpause`) to the first
// /healthz 200. Both polled every 100 ms through the dom0 SSH connection, so they compare; the
// whole gridhost path (store writes, balancer registration) is test/xen/warm-pool-xen.test.ts's.
import type { CloneMethod, Policy } from '../../src/domain/policy.ts';
import type { Guest } from '../../src/domain/types.ts';
import type { XenDrivers } from '../../src/drivers/xen/create-xen-drivers.ts';

export interface WarmBenchDeps {
  drivers: XenDrivers;
  host: string;
  pool: string;
  policy: (image: string, clone: CloneMethod) => Policy;
  image: string;
  log: (line: string) => void;
}

/** Target of issue 14: the warm path well under 2 s on the lab. */
const TARGET_WARM_MS = 2000;
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

export async function warmVsCold(o: WarmBenchDeps, runs = 3): Promise<string[]> {
  const d = o.drivers;
  const cold: number[] = [];
  const warm: number[] = [];
  const unpause: number[] = [];
  const made: Guest[] = [];
  try {
    for (let i = 1; i <= runs; i++) {
      const spec = { id: `${o.pool}-w${i}`, pool: o.pool, policy: o.policy(o.image, 'reflink') };
      const g: Guest = { id: spec.id, pool: o.pool, state: 'cloning', driver: 'xen', host: o.host, createdAt: Date.now(), updatedAt: Date.now(), meta: {} };
      made.push(g);
      const t0 = performance.now();
      const c = await d.hypervisor.clone(spec);
      Object.assign(g.meta, c.meta);
      g.address = c.address ?? '';
      Object.assign(g.meta, (await d.hypervisor.boot(spec, g.meta)).meta);
      await firstOk(d, g, 600_000);
      cold.push(performance.now() - t0);
      // Made warm: paused once healthy, left a while, then taken.
      Object.assign(g.meta, (await d.hypervisor.pause(g)).meta);
      await sleep(5_000);
      const t1 = performance.now();
      Object.assign(g.meta, (await d.hypervisor.unpause(g)).meta);
      unpause.push(performance.now() - t1);
      await firstOk(d, g, 60_000);
      warm.push(performance.now() - t1);
      o.log(`xen-bench: ${g.id} cold ${sec(cold.at(-1)!)} s, warm ${sec(warm.at(-1)!)} s (xl unpause ${sec(unpause.at(-1)!)} s)`);
    }
  } finally {
    for (const g of made.reverse()) {
      await d.hypervisor.stop(g, 120_000).catch((e: unknown) => o.log(`xen-bench: stop of ${g.id} failed: ${(e as Error).message}`));
      await d.hypervisor.deleteClone(g).catch((e: unknown) => o.log(`xen-bench: deleteClone of ${g.id} failed: ${(e as Error).message}`));
    }
  }
  const w = median(warm);
  return [
    `(d) warm pool: scale-out to serving through XenHypervisor, seconds (median of ${runs}; first /healthz 200 polled every 100 ms via dom0):`,
    `  cold: clone() + boot() + guest boot to healthy: ${sec(median(cold))} s   (runs ${cold.map(sec).join(', ')})`,
    `  warm: unpause() of a paused healthy guest to healthy: ${sec(w)} s   target < ${sec(TARGET_WARM_MS)} s: ${w < TARGET_WARM_MS ? 'PASS' : 'MISS'}   (runs ${warm.map(sec).join(', ')}; xl unpause alone ${sec(median(unpause))} s)`,
  ];
}
