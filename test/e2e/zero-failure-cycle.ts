// One full 2 -> 8 -> 2 cycle of real local guests under steady HTTP load, through the builtin
// balancer or through a real HAProxy (templates/haproxy.cfg), counting every request that did
// not get a 2xx. Shared by the zero-failure tests (which assert 0) and `npm run bench` (which
// prints the figures). Drives wrk: callers hold /tmp/gridhost-heavy.lock.
//
// The load: a steady, paced wrk (fixed connections, keep-alive, back-to-back fixed-length runs
// so latency can be told apart by phase) runs through the whole cycle; a second wrk (the push,
// cheap requests, as many as 16 connections get through) runs only until the pool is at 8.
// Scaling follows the guests' own request rate: above 40 rps per guest +2, below 20 -2. The
// steady load alone (at most 75 rps) keeps 2 guests between the bounds and 4 below the lower
// one, so the push takes the pool out and its end brings it back; the push keeps 8 guests
// above 20 rps each as long as it gets 160 rps through, which a 2-core machine under other
// load still does.
import { getJson, startGridhost, waitUntil, type GridhostProcess } from './harness.ts';
import { haproxyGridhostYaml, haproxyServers, startTemplateHaproxy } from './haproxy-harness.ts';
import { failures, pooledQuantile, runWrk, steadyLoad, total, type WrkResult } from './wrk.ts';
import { freePort } from './harness.ts';
import type { HaproxyFixture } from '../drivers/balancer/haproxy-fixture.ts';
import { webTemplate } from './web-template.ts';

export type CycleDriver = 'builtin' | 'haproxy';

export const POOL = 'zf';
/** Steady load: 6 keep-alive connections, each waiting 80 ms before its next request. */
export const STEADY = { connections: 6, delayMs: 80, segmentS: 5 };
/** Push: 16 connections of cheap requests (no CPU work in the guest), back to back. */
export const PUSH = { connections: 16, delayMs: 0 };

const TEMPLATE = webTemplate(1, { RATE_WINDOW_MS: '2000' });

function policy(balancer: string): string {
  return `pool: ${POOL}
min: 2
max: 8
guest:
  driver: local
  template: zf.local.yaml
  image: images/web
  boot_timeout: 30s
  stop_timeout: 5s
  drain_timeout: 10s
balancer:
${balancer}
sampling:
  interval: 500ms
  window: 30s
warmup: 0s
scale_out:
  cooldown: 1s
scale_in:
  cooldown: 1s
  stabilization: 2s
rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 40
    for: 2
    step: +2
  - name: quiet
    strategy: threshold
    metric: rps
    below: 20
    for: 3
    step: -2
`;
}

export interface PhaseFigures {
  /** Requests the steady load completed in the phase. */
  requests: number;
  seconds: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

export interface CycleReport {
  driver: CycleDriver;
  /** Every request the steady load and the push made, and how they failed. */
  requests: number;
  failed: number;
  counts: ReturnType<typeof total>;
  /** Largest and final pool size seen. */
  maxSize: number;
  endSize: number;
  /** Completed scale events, oldest first: "2->4", ... */
  steps: string[];
  scaleOut: PhaseFigures;
  scaleIn: PhaseFigures;
  /** HAProxy's gridhost servers at the end (haproxy only): name -> address. */
  servers?: Map<string, string>;
  guests: string[];
}

function phase(runs: readonly WrkResult[], from: number, to: number): PhaseFigures {
  const inside = runs.filter((r) => {
    const mid = (r.startedAt + r.endedAt) / 2;
    return mid >= from && mid < to;
  });
  return {
    requests: inside.reduce((n, r) => n + r.requests, 0),
    seconds: (to - from) / 1000,
    p50Ms: pooledQuantile(inside, 50),
    p99Ms: pooledQuantile(inside, 99),
  };
}

function size(v: { counts?: Record<string, number> }): number {
  const c = v.counts ?? {};
  return (c.cloning ?? 0) + (c.booting ?? 0) + (c.healthy ?? 0);
}

export async function zeroFailureCycle(driver: CycleDriver, log: (line: string) => void = () => undefined): Promise<CycleReport> {
  let hx: HaproxyFixture | undefined;
  let gh: GridhostProcess | undefined;
  let steady: ReturnType<typeof steadyLoad> | undefined;
  const push = new AbortController();
  let pushing: Promise<WrkResult> | undefined;
  try {
    let front: string;
    let balancer: string;
    let config: string | undefined;
    if (driver === 'haproxy') {
      hx = await startTemplateHaproxy(POOL);
      front = hx.frontends[POOL]!;
      balancer = '  driver: haproxy\n  check:\n    interval: 500ms';
      config = haproxyGridhostYaml(hx, '1s');
    } else {
      const port = await freePort();
      front = `127.0.0.1:${port}`;
      balancer = `  listen: ${front}`;
    }
    gh = await startGridhost({ policies: { 'zf.yaml': policy(balancer) }, templates: { 'zf.local.yaml': TEMPLATE }, ...(config ? { config } : {}) });
    const api = gh.api;
    const view = async () => (await getJson(`${api}/api/pools/${POOL}`)).json;
    let maxSize = 0;
    const watch = async (pred: (v: any) => boolean, ms: number, what: string) =>
      waitUntil(async () => {
        const v = await view();
        maxSize = Math.max(maxSize, size(v));
        return pred(v) ? v : undefined;
      }, ms, what, 200);

    await watch((v) => v.counts?.healthy === 2, 60_000, 'two healthy guests before any load');
    const url = `http://${front}/`;
    steady = steadyLoad({ url, connections: STEADY.connections, delayMs: STEADY.delayMs, segmentS: STEADY.segmentS, timeoutS: 10 });
    await new Promise((r) => setTimeout(r, 2000));

    const outFrom = Date.now();
    log(`${driver}: push on`);
    pushing = runWrk({ url: `http://${front}/?ms=0`, connections: PUSH.connections, delayMs: PUSH.delayMs, durationS: 300, timeoutS: 10 }, push.signal);
    await watch((v) => v.counts?.healthy === 8, 150_000, 'eight healthy guests under the push');
    await new Promise((r) => setTimeout(r, 2000));
    const outTo = Date.now();
    push.abort();
    const pushed = await pushing;
    pushing = undefined;
    log(`${driver}: at 8 after ${((outTo - outFrom) / 1000).toFixed(1)} s; push off`);

    const inFrom = Date.now();
    const end = await watch((v) => size(v) === 2 && (v.counts?.draining ?? 0) === 0 && (v.counts?.stopping ?? 0) === 0, 150_000, 'back at two guests with none draining');
    const inTo = Date.now();
    log(`${driver}: back at 2 after ${((inTo - inFrom) / 1000).toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 2000));
    const runs = await steady.stop();
    steady = undefined;

    const events = (await getJson(`${api}/api/events?pool=${POOL}&limit=1000`)).json.events as Array<{ outcome: string; direction: string; from: number; to: number }>;
    const steps = events.filter((e) => e.outcome === 'done' && e.from >= 2).reverse().map((e) => `${e.from}->${e.to}`);
    const all = [...runs, pushed];
    const counts = total(all);
    return {
      driver,
      requests: counts.requests,
      failed: all.reduce((n, r) => n + failures(r), 0),
      counts,
      maxSize,
      endSize: size(end),
      steps,
      scaleOut: phase(runs, outFrom, outTo),
      scaleIn: phase(runs, inFrom, inTo),
      ...(hx ? { servers: await haproxyServers(hx, POOL) } : {}),
      guests: (end.guests as Array<{ id: string }>).map((g) => g.id).sort(),
    };
  } finally {
    push.abort();
    await pushing?.catch(() => undefined);
    await steady?.stop(true).catch(() => undefined);
    await gh?.stop();
    gh?.cleanup();
    await hx?.stop();
  }
}

export function formatCycle(r: CycleReport): string {
  const ms = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(1)} ms`);
  const ph = (name: string, p: PhaseFigures) =>
    `  ${name.padEnd(10)} ${String(p.requests).padStart(6)} requests in ${p.seconds.toFixed(1).padStart(5)} s   p50 ${ms(p.p50Ms).padStart(9)}   p99 ${ms(p.p99Ms).padStart(9)}`;
  return [
    `zero-failure cycle through the ${r.driver} balancer: 2 -> ${r.maxSize} -> ${r.endSize} (${r.steps.join(', ')})`,
    `  requests ${r.requests}, failed ${r.failed} (non-2xx ${r.counts.non2xx}, connect ${r.counts.connectErrors}, read ${r.counts.readErrors}, write ${r.counts.writeErrors}, timeout ${r.counts.timeouts})   target 0 failed: ${r.failed === 0 ? 'met' : 'NOT met'}`,
    ph('scale-out', r.scaleOut),
    ph('scale-in', r.scaleIn),
  ].join('\n');
}
