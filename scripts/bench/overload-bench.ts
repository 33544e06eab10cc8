// Overload and sick guests, end to end on the local driver (real gridhost, real guests, wrk):
//  - overload: more connections than the pool can serve, with guests that serve one request at
//    a time (overloaded, their checks and metrics reads time out); figures: requests, failures
//    (target: at most 2%, no 503), time from 2 guests to max;
//  - a guest killed from outside: time until it is marked sick and until its replacement serves;
//  - a guest hung with SIGSTOP: time until it is out of rotation (target: (fall + 1) x interval).
// Prints figures next to their targets; asserts nothing.
//   npx tsx scripts/bench/overload-bench.ts
import { pathToFileURL } from 'node:url';
import { freePort, getJson, guestRecords, openLoopLoad, request, sleep, startGridhost, waitUntil, type GridhostProcess } from '../../test/e2e/harness.ts';
import { failures, startWrk, type WrkResult } from './wrk.ts';

const MAX = 4;
const CONNECTIONS = 96;
const CHECK_MS = 500;
const FALL = 2;

const policy = (pool: string, lbPort: number) => `pool: ${pool}
min: 2
max: ${MAX}
guest: { driver: local, template: ${pool}.local.yaml, image: images/web, boot_timeout: 30s, stop_timeout: 1s, drain_timeout: 2s }
balancer:
  listen: 127.0.0.1:${lbPort}
  check: { interval: ${CHECK_MS}ms, timeout: ${CHECK_MS}ms, rise: 2, fall: ${FALL} }
  response_timeout: 8s
sampling: { interval: 1s, window: 30s }
warmup: 0s
scale_out: { cooldown: 2s }
scale_in: { cooldown: 60s, stabilization: 5m }
rules:
  - { name: rps, strategy: target-tracking, metric: rps, target: 25 }
  - { name: inflight, strategy: target-tracking, source: balancer, metric: inflight, target: 3 }
`;

const template = (workMs: number, sliceMs: number) => `command: node
args: ["server.mjs"]
env: { HOST: "127.0.0.1", PORT: "{{port}}", GUEST_ID: "{{guest}}", WORK_MS: "${workMs}", SLICE_MS: "${sliceMs}" }
`;

async function withGridhost<T>(pool: string, workMs: number, sliceMs: number, fn: (gh: GridhostProcess, front: string) => Promise<T>): Promise<T> {
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { [`${pool}.yaml`]: policy(pool, lbPort) }, templates: { [`${pool}.local.yaml`]: template(workMs, sliceMs) }, env: { GRIDHOST_LOG_LEVEL: 'info' } });
  try {
    await waitUntil(async () => (await getJson(`${gh.api}/api/pools/${pool}`)).json.counts.healthy === 2, 60_000, 'two healthy guests');
    return await fn(gh, `http://127.0.0.1:${lbPort}/`);
  } finally {
    await gh.stop();
    gh.cleanup();
  }
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const at = (l: Record<string, unknown>) => Date.parse(String(l.timestamp));

async function overload(): Promise<string[]> {
  return withGridhost('hot', 30, 30, async (gh, front) => {
    const t0 = Date.now();
    const wrk = startWrk(front, CONNECTIONS);
    let toMax = NaN;
    let r: WrkResult;
    try {
      await waitUntil(async () => (await getJson(`${gh.api}/api/pools/hot`)).json.counts.healthy === MAX, 180_000, 'max under overload', 250);
      toMax = Date.now() - t0;
      await sleep(10_000);
    } finally {
      r = await wrk.stop();
    }
    const metrics = (await request(`${gh.api}/metrics`)).body;
    const noBackend = Number(/gridhost_balancer_no_backend_total\{pool="hot"\} (\d+)/.exec(metrics)?.[1] ?? NaN);
    const failOpens = Number(/gridhost_balancer_fail_open_total\{pool="hot"\} (\d+)/.exec(metrics)?.[1] ?? NaN);
    const f = failures(r);
    const pct = (100 * f) / Math.max(1, r.requests);
    return [
      `overload (local driver, guests serving one 30 ms request at a time, wrk -c ${CONNECTIONS}, pool 2 -> max ${MAX}, held 10 s at max):`,
      `  requests ${r.requests}, failed ${f} (${pct.toFixed(2)}%: ${r.non2xx} non-2xx, ${r.timeout} timeouts, ${r.connect + r.read + r.write} socket errors)   target <= 2%: ${pct <= 2 ? 'met' : 'missed'}`,
      `  503 for want of a backend: ${noBackend}   target 0: ${noBackend === 0 ? 'met' : 'missed'}   (fail-open entered ${failOpens} time(s))`,
      `  time 2 -> ${MAX} guests under load: ${s(toMax)}`,
    ];
  });
}

async function killed(): Promise<string[]> {
  return withGridhost('kill', 2, 2, async (gh, front) => {
    const [victim] = ((await getJson(`${gh.api}/api/pools/kill`)).json.guests as any[]).map((g) => g.id as string);
    const rec = guestRecords(gh.dir, 'kill').find((g) => g.id === victim)!;
    const load = openLoopLoad(front, 50);
    await sleep(1000);
    const t0 = Date.now();
    process.kill(-rec.pid, 'SIGKILL');
    const sick = await waitUntil(() => gh.logs.find((l) => l.event === 'guest' && l.action === 'sick' && l.guest === victim), 30_000, 'sick line');
    await waitUntil(async () => {
      const ids = ((await getJson(`${gh.api}/api/pools/kill`)).json.guests as any[]).filter((g) => g.state === 'healthy').map((g) => g.id);
      return ids.length === 2 && !ids.includes(victim);
    }, 30_000, 'replacement serving');
    const replacedIn = Date.now() - t0;
    await load.stop();
    return [
      'guest killed from outside (kill -9 of its process group; sampling 1 s, checks every 500 ms):',
      `  noticed (marked sick: ${String(sick.reason)}) after ${s(at(sick) - t0)}; replacement serving after ${s(replacedIn)}   target: a few seconds`,
      `  client requests meanwhile: ${load.stats.ok + load.stats.failed}, failed ${load.stats.failed}`,
    ];
  });
}

async function hung(): Promise<string[]> {
  return withGridhost('hang', 2, 2, async (gh, front) => {
    const [victim] = ((await getJson(`${gh.api}/api/pools/hang`)).json.guests as any[]).map((g) => g.id as string);
    const rec = guestRecords(gh.dir, 'hang').find((g) => g.id === victim)!;
    const load = openLoopLoad(front, 50);
    await sleep(1000);
    const t0 = Date.now();
    process.kill(-rec.pid, 'SIGSTOP');
    try {
      const down = await waitUntil(() => gh.logs.find((l) => l.event === 'balancer' && l.kind === 'unhealthy' && l.backend === victim), 30_000, 'down line');
      await waitUntil(async () => {
        const ids = ((await getJson(`${gh.api}/api/pools/hang`)).json.guests as any[]).filter((g) => g.state === 'healthy').map((g) => g.id);
        return ids.length === 2 && !ids.includes(victim);
      }, 30_000, 'replacement serving');
      const replacedIn = Date.now() - t0;
      await sleep(1000);
      await load.stop();
      const bound = (FALL + 1) * CHECK_MS;
      const out = at(down) - t0;
      return [
        `guest hung with SIGSTOP (checks every ${CHECK_MS} ms, timeout ${CHECK_MS} ms, fall ${FALL}):`,
        `  out of rotation after ${out} ms   target <= (fall + 1) x interval = ${bound} ms: ${out <= bound ? 'met' : 'missed'}`,
        `  replacement serving after ${s(replacedIn)}; client requests ${load.stats.ok + load.stats.failed}, failed ${load.stats.failed} (only those the hung guest held)`,
      ];
    } finally {
      try { process.kill(-rec.pid, 'SIGCONT'); } catch { /* gone */ }
    }
  });
}

export async function benchOverload(): Promise<string> {
  const lines = [...(await overload()), '', ...(await killed()), '', ...(await hung())];
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchOverload());
}
