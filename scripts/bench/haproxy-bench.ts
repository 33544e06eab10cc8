// The data path, measured with one client (wrk: keep-alive, fixed connections and duration):
// requests/s and p99 straight to a real guest process, through the builtin balancer and through
// a real HAProxy (templates/haproxy.cfg, gridhost's driver registering the guest), each as a
// ratio to direct; then the zero-failure 2 -> 8 -> 2 cycle through each balancer (requests,
// failures, p50/p99 during scale-out and scale-in). The machine has 2 cores shared by the
// client, the balancer and the guest: the load average is printed beside every figure.
// Run: npx tsx scripts/bench/haproxy-bench.ts (npm run bench runs it under the heavy lock).
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BuiltinBalancer } from '../../src/drivers/balancer/builtin/builtin-balancer.ts';
import { HaproxyBalancer } from '../../src/drivers/balancer/haproxy/haproxy-balancer.ts';
import { startTemplateHaproxy } from '../../test/e2e/haproxy-harness.ts';
import { freePort, REPO } from '../../test/e2e/harness.ts';
import { failures, pooledQuantile, runWrk, type WrkResult } from '../../test/e2e/wrk.ts';
import { formatCycle, zeroFailureCycle } from '../../test/e2e/zero-failure-cycle.ts';

const CONNECTIONS = 16;
const SECONDS = 8;
const ROUNDS = 3;
/** Targets, as ratios to a direct connection (the client, the balancer and the guest share the
 *  machine's 2 cores, so a balancer's CPU is taken from the guest): HAProxy, a compiled proxy,
 *  keeps at least 60% of the direct rate and at most 2x its p99; the builtin proxy (node, in
 *  gridhost) at least 30% and 3x. Failed requests: none, on every path. */
const TARGETS: Record<string, { rps: number; p99: number }> = { builtin: { rps: 0.3, p99: 3 }, haproxy: { rps: 0.6, p99: 2 } };
const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');

const loadavg = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' ');

async function guest(): Promise<{ child: ChildProcess; address: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: join(REPO, 'templates', 'images', 'web'),
    env: { HOST: '127.0.0.1', PORT: String(port), GUEST_ID: 'bench', WORK_MS: '0', PATH: process.env.PATH ?? '' },
    stdio: 'ignore',
  });
  const address = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://${address}/healthz`);
      if (r.ok) return { child, address };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('bench guest did not start');
}

interface PathFigures {
  rps: number;
  p99: number;
  failed: number;
  load: string;
}

async function measure(address: string): Promise<PathFigures> {
  const r: WrkResult = await runWrk({ url: `http://${address}/`, connections: CONNECTIONS, durationS: SECONDS, timeoutS: 10 });
  return { rps: r.requests / r.durationS, p99: pooledQuantile([r], 99) ?? NaN, failed: failures(r), load: loadavg() };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchDataPath(): Promise<string> {
  const g = await guest();
  const builtin = new BuiltinBalancer({ healthIntervalMs: 250, riseCount: 1 });
  const hx = await startTemplateHaproxy('bench');
  const driver = new HaproxyBalancer({ socket: hx.socket, reconcileMs: 2000 });
  try {
    await builtin.ensurePool('bench', '127.0.0.1:0', '/healthz');
    await builtin.add('bench', 'bench-g', g.address);
    await driver.ensurePool('bench', '', '/healthz', { check: { intervalMs: 1000 } });
    await driver.add('bench', 'bench-g', g.address);
    for (let i = 0; i < 50 && !(await builtin.list('bench'))[0]?.healthy; i++) await new Promise((r) => setTimeout(r, 100));
    const paths: Array<[string, string]> = [['direct', g.address], ['builtin', builtin.frontendAddress('bench')], ['haproxy', hx.frontends.bench!]];
    const got = new Map<string, PathFigures[]>(paths.map(([n]) => [n, []]));
    await measure(g.address); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so no path always runs first (or last) on a machine whose load drifts.
      for (let i = 0; i < paths.length; i++) {
        const [name, address] = paths[(i + round) % paths.length]!;
        got.get(name)!.push(await measure(address));
      }
    }
    const direct = got.get('direct')!;
    const dRps = median(direct.map((x) => x.rps));
    const dP99 = median(direct.map((x) => x.p99));
    const lines = [`data path: wrk -c ${CONNECTIONS} -d ${SECONDS}s keep-alive to one example guest (WORK_MS 0), median of ${ROUNDS} rounds; load average (1/5/15 min) after each run`];
    for (const [name] of paths) {
      const xs = got.get(name)!;
      const rps = median(xs.map((x) => x.rps));
      const p99 = median(xs.map((x) => x.p99));
      const failed = xs.reduce((n, x) => n + x.failed, 0);
      const tg = TARGETS[name];
      const ratio = tg === undefined ? '' : `   ${(rps / dRps).toFixed(2)}x direct req/s (target >= ${tg.rps}: ${met(rps / dRps >= tg.rps)}), p99 ${(p99 / dP99).toFixed(2)}x (target <= ${tg.p99}: ${met(p99 / dP99 <= tg.p99)})`;
      lines.push(`  ${name.padEnd(8)} ${rps.toFixed(0).padStart(7)} req/s   p99 ${p99.toFixed(2).padStart(7)} ms   failed ${failed} (target 0: ${met(failed === 0)})${ratio}   load ${xs.map((x) => x.load).join(' | ')}`);
    }
    return lines.join('\n');
  } finally {
    await builtin.close();
    await driver.close();
    await hx.stop();
    g.child.kill('SIGKILL');
  }
}

export async function benchZeroFailure(): Promise<string> {
  const out: string[] = [];
  for (const driver of ['builtin', 'haproxy'] as const) {
    const before = loadavg();
    const r = await zeroFailureCycle(driver);
    out.push(`${formatCycle(r)}\n  load average before ${before}, after ${loadavg()}`);
  }
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchDataPath());
  console.log('');
  console.log(await benchZeroFailure());
  process.exit(0);
}
