// End-to-end reaction on the local driver: time from the start of a load step to the third
// guest serving, split into detection, clone, boot, health and balancer registration, so the
// orchestrator's own overhead is visible. Runs a real gridhost with real guests on loopback.
import { closedLoopLoad, freePort, getJson, openLoopLoad, sleep, startGridhost, type GridhostProcess } from '../../test/e2e/harness.ts';

const POOL = 'bench';

const policy = (lbPort: number, intervalMs: number) => `
pool: ${POOL}
min: 2
max: 8
guest: { driver: local, template: bench.local.yaml, image: images/web, boot_timeout: 20s }
balancer: { listen: 127.0.0.1:${lbPort} }
sampling: { interval: ${intervalMs}ms, window: 1m }
warmup: 0s
scale_out: { cooldown: 0s }
scale_in: { cooldown: 0s, stabilization: 0s }
rules:
  - { name: busy, strategy: threshold, metric: rps, above: 8, for: 2, step: +1 }
  - { name: quiet, strategy: threshold, metric: rps, below: 2, for: 2, step: -1 }
`;

const TEMPLATE = `
command: node
args: ["server.mjs"]
env: { HOST: "127.0.0.1", PORT: "{{port}}", GUEST_ID: "{{guest}}", WORK_MS: "3", RATE_WINDOW_MS: "1000" }
`;

interface Run {
  detectionMs: number;
  cloneMs: number;
  bootMs: number;
  healthMs: number;
  registerMs: number;
  firstRequestMs: number;
  totalMs: number;
}

const at = (l: Record<string, unknown>) => Date.parse(String(l.timestamp));

async function healthyCount(gh: GridhostProcess): Promise<{ healthy: number; busy: number; view: any }> {
  const v = (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
  return { healthy: v.counts.healthy, busy: v.counts.cloning + v.counts.booting + v.counts.draining + v.counts.stopping, view: v };
}

async function waitUntil(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function oneStep(gh: GridhostProcess, front: string): Promise<Run> {
  await waitUntil(async () => { const c = await healthyCount(gh); return c.healthy === 2 && c.busy === 0; }, 120_000, 'pool at 2');
  const before = new Set(((await healthyCount(gh)).view.guests as any[]).map((g) => g.id));
  const logStart = gh.logs.length;
  const t0 = Date.now();
  const load = closedLoopLoad(front, 6);
  let third: string | undefined;
  let servedAt = 0;
  await waitUntil(async () => {
    const v = (await healthyCount(gh)).view;
    const b = (v.backends as any[]).find((x) => !before.has(x.id) && x.served > 0);
    if (b) { third = b.id; servedAt = Date.now(); }
    return b !== undefined;
  }, 60_000, 'third guest serving');
  await load.stop();
  // The guest can serve before its 'register' line has come through gridhost's stdout (the
  // step ends when the balancer routes to it, and the line is written just after): wait for it.
  const registered = (l: Record<string, unknown>) => l.event === 'guest' && l.guest === third && l.action === 'register';
  await waitUntil(async () => gh.logs.slice(logStart).some(registered), 10_000, 'the third guest\'s register log line');
  const logs = gh.logs.slice(logStart);
  const decision = logs.find((l) => l.event === 'scale' && l.outcome === 'started' && l.action === 'scale-out');
  // The guest's booting -> healthy line carries what each step of the launch took; a missing
  // figure fails the bench rather than printing NaN.
  const launched = logs.find((l) => l.event === 'guest' && l.guest === third && l.from === 'booting' && l.to === 'healthy');
  const cloned = logs.find((l) => l.event === 'guest' && l.guest === third && l.from === 'cloning' && l.to === 'booting');
  const step = (action: string) => {
    const v = action === 'clone' ? cloned?.clone_ms : launched?.[`${action}_ms`];
    if (typeof v !== 'number') throw new Error(`bench: no ${action}_ms on ${third}'s guest log line`);
    return v;
  };
  // Let the pool fall back to 2 for the next run.
  const idle = openLoopLoad(front, 1000);
  await waitUntil(async () => { const c = await healthyCount(gh); return c.healthy === 2 && c.busy === 0; }, 120_000, 'scale back to 2');
  await idle.stop();
  const registerMs = step('register');
  if (decision === undefined) throw new Error('bench: no scale-out "started" log line after the load step');
  return {
    detectionMs: at(decision) - t0,
    cloneMs: step('clone'),
    bootMs: step('boot'),
    healthMs: step('health'),
    registerMs,
    firstRequestMs: servedAt - t0,
    totalMs: servedAt - t0,
  };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

export async function benchReaction(runs = 3, intervalMs = 1000): Promise<string> {
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'bench.yaml': policy(lbPort, intervalMs) }, templates: { 'bench.local.yaml': TEMPLATE }, env: { GRIDHOST_LOG_LEVEL: 'info' } });
  const lines: string[] = [];
  try {
    const results: Run[] = [];
    for (let i = 0; i < runs; i++) results.push(await oneStep(gh, `http://127.0.0.1:${lbPort}/`));
    const f = (k: keyof Run) => `${(median(results.map((r) => r[k])) / 1000).toFixed(2)} s`;
    lines.push(`reaction (local driver, sampling ${intervalMs} ms, rule "rps > 8 for 2 samples", ${runs} runs, medians):`);
    lines.push(`  load step -> third guest serving: ${f('totalMs')}`);
    lines.push(`    detection (load start -> scale-out decision): ${f('detectionMs')}`);
    lines.push(`    clone: ${f('cloneMs')}   boot (spawn): ${f('bootMs')}   health (first /healthz 200): ${f('healthMs')}   balancer registration (rise): ${f('registerMs')}`);
    const accounted = median(results.map((r) => r.detectionMs + r.cloneMs + r.bootMs + r.healthMs + r.registerMs));
    lines.push(`    unaccounted (store writes, scheduling, first request routing): ${((median(results.map((r) => r.totalMs)) - accounted) / 1000).toFixed(2)} s`);
    lines.push(`  runs: ${results.map((r) => (r.totalMs / 1000).toFixed(2)).join(', ')} s`);
  } finally {
    await gh.stop();
    gh.cleanup();
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchReaction());
}
