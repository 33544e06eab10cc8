// The README's demo, timed: the example pool exactly as shipped (policies/web.yaml, the example
// guest templates/web.local.yaml) under the README's load command, `wrk -c 32`, until it has 8
// guests, then no load until it is back to 2. Prints both times; asserts nothing.
//   npx tsx scripts/bench/demo-bench.ts
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, getJson, REPO, sleep, startGridhost } from '../../test/e2e/harness.ts';
import { failures, startWrk, type WrkResult } from './wrk.ts';

const CONNECTIONS = 32;

export async function benchDemo(): Promise<string> {
  const lbPort = await freePort();
  // The shipped policy, listening on a free port instead of 8080.
  const web = readFileSync(join(REPO, 'policies', 'web.yaml'), 'utf8').replace(/listen: 127\.0\.0\.1:8080/, `listen: 127.0.0.1:${lbPort}`);
  const gh = await startGridhost({ policies: { 'web.yaml': web }, env: { GRIDHOST_LOG_LEVEL: 'info' } });
  const size = async () => {
    const v = (await getJson(`${gh.api}/api/pools/web`)).json;
    return { healthy: v.counts.healthy as number, busy: (v.counts.cloning + v.counts.booting + v.counts.draining + v.counts.stopping + (v.counts.sick ?? 0)) as number };
  };
  const until = async (pred: (s: { healthy: number; busy: number }) => boolean, ms: number, what: string) => {
    const deadline = Date.now() + ms;
    for (;;) {
      if (pred(await size())) return;
      if (Date.now() > deadline) throw new Error(`demo bench: no ${what} within ${ms / 1000} s`);
      await sleep(500);
    }
  };
  try {
    await until((s) => s.healthy === 2 && s.busy === 0, 120_000, 'pool at 2');
    const load0 = os.loadavg()[0]!;
    const t0 = Date.now();
    const wrk = startWrk(`http://127.0.0.1:${lbPort}/`, CONNECTIONS, 900);
    let up = NaN;
    let r: WrkResult;
    try {
      await until((s) => s.healthy === 8, 600_000, '8 healthy guests');
      up = Date.now() - t0;
      await sleep(5000);
    } finally {
      r = await wrk.stop();
    }
    const t1 = Date.now();
    await until((s) => s.healthy === 2 && s.busy === 0, 900_000, 'pool back at 2');
    const down = Date.now() - t1;
    const events = ((await getJson(`${gh.api}/api/events?pool=web&limit=100`)).json.events as any[]).filter((e) => e.outcome === 'done').reverse();
    return [
      `demo (policies/web.yaml and the example guest as shipped, wrk -c ${CONNECTIONS}; load average ${load0.toFixed(1)} at the start):`,
      `  2 -> 8 guests under load: ${(up / 1000).toFixed(1)} s; after the load stops, 8 -> 2: ${(down / 1000).toFixed(1)} s`,
      `  steps: ${events.map((e) => `${e.from}->${e.to}`).join(', ')}`,
      `  wrk: ${r.requests} requests, ${failures(r)} failed`,
    ].join('\n');
  } finally {
    await gh.stop();
    gh.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchDemo());
}
