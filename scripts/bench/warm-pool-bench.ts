// Warm pool (policy warm_pool, issue 14) on the local driver: decision to serving for a scale-out
// that takes a paused warm guest against one that clones and boots, as gridhost itself measures it
// (gridhost_scale_out_to_serving_seconds{path}: from the decision to the guest healthy and in the
// balancer). Two pools of one real gridhost with the plain example image; each run scales each
// pool 1 -> 2 by hand and back. The Xen lab's figures are the xen section's (d).
import { freePort, getJson, request, sleep, startGridhost, type GridhostProcess } from '../../test/e2e/harness.ts';

const TOKEN = 'bench-warm-pool-token-0123456789abcdef';
const TARGET_WARM_S = 2;

const policy = (pool: string, lbPort: number, warm: boolean) => `
pool: ${pool}
min: 1
max: 4
guest: { driver: local, template: web.local.yaml, image: images/web, boot_timeout: 20s, stop_timeout: 3s, drain_timeout: 1s }
balancer: { listen: 127.0.0.1:${lbPort} }
sampling: { interval: 500ms, window: 30s }
warmup: 0s
scale_out: { cooldown: 0s }
scale_in: { cooldown: 0s, stabilization: 0s }
${warm ? 'warm_pool: { size: 1 }\n' : ''}rules:
  - { name: busy, strategy: threshold, metric: rps, above: 100000, for: 2, step: +1 }
`;

async function until(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(50);
  }
}

const counts = async (gh: GridhostProcess, pool: string) => (await getJson(`${gh.api}/api/pools/${pool}`)).json.counts as Record<string, number>;
const settled = (c: Record<string, number>, healthy: number, warm: number) =>
  c.healthy === healthy && (c.warm ?? 0) === warm && [c.cloning, c.booting, c.draining, c.stopping, c.warming].every((n) => (n ?? 0) === 0);

async function scale(gh: GridhostProcess, pool: string, desired: number): Promise<void> {
  const r = await request(`${gh.api}/api/pools/${pool}/scale`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ desired, by: 'bench' }) });
  if (r.status !== 200) throw new Error(`bench: scale ${pool} to ${desired}: ${r.status} ${r.body}`);
}

/** gridhost's own figure: the histogram's sum and count for the pool and path. */
async function served(gh: GridhostProcess, pool: string, path: 'warm' | 'cold'): Promise<{ sum: number; count: number }> {
  const text = (await request(`${gh.api}/metrics`)).body;
  const read = (suffix: string) => Number(new RegExp(`^gridhost_scale_out_to_serving_seconds_${suffix}\\{pool="${pool}",path="${path}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: read('sum'), count: read('count') };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

export async function benchWarmPool(runs = 3): Promise<string> {
  const [warmLb, coldLb] = [await freePort(), await freePort()];
  const gh = await startGridhost({ policies: { 'wp.yaml': policy('wp', warmLb, true), 'cp.yaml': policy('cp', coldLb, false) }, env: { GRIDHOST_LOG_LEVEL: 'warn', GRIDHOST_API_TOKEN: TOKEN } });
  const figures: Record<'warm' | 'cold', number[]> = { warm: [], cold: [] };
  try {
    for (let i = 0; i < runs; i++) {
      for (const [pool, path, warm] of [['wp', 'warm', 1], ['cp', 'cold', 0]] as const) {
        await until(async () => settled(await counts(gh, pool), 1, warm), 60_000, `${pool} at 1 healthy, ${warm} warm`);
        const before = await served(gh, pool, path);
        await scale(gh, pool, 2);
        await until(async () => (await served(gh, pool, path)).count === before.count + 1, 60_000, `${pool}: a ${path} guest serving`);
        figures[path].push((await served(gh, pool, path)).sum - before.sum);
        await scale(gh, pool, 1);
      }
    }
  } finally {
    await gh.stop();
    gh.cleanup();
  }
  const s = (xs: number[]) => `${median(xs).toFixed(2)} s`;
  const warm = median(figures.warm);
  return [
    `warm pool (local driver, plain example image, ${runs} runs each, medians; gridhost_scale_out_to_serving_seconds):`,
    `  decision -> serving, warm (unpause a paused guest): ${s(figures.warm)}   target < ${TARGET_WARM_S} s: ${warm < TARGET_WARM_S ? 'PASS' : 'MISS'}`,
    `  decision -> serving, cold (clone, boot, health):    ${s(figures.cold)}   warm is ${(median(figures.cold) / warm).toFixed(1)}x faster`,
    `  runs: warm ${figures.warm.map((x) => x.toFixed(2)).join(', ')} s; cold ${figures.cold.map((x) => x.toFixed(2)).join(', ')} s`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchWarmPool());
  process.exit(0);
}
