// What only a balancer outside gridhost can pass, under steady keep-alive load (wrk) through a
// real HAProxy run from templates/haproxy.cfg:
//  - gridhost SIGKILLed and started again 10 s later: no request fails while it is down or
//    after, its guests are adopted, HAProxy's servers are the same ones (none duplicated, none
//    dropped, none re-created);
//  - HAProxy reloaded (its dynamic servers vanish): gridhost adds them back within one
//    reconcile period; what that window costs is counted and printed (README: HAProxy).
import test from 'ava';
import { getJson, startGridhost, waitUntil, type GridhostProcess } from './harness.ts';
import { haproxyGridhostYaml, haproxyPoolPolicy, haproxyServers, startTemplateHaproxy } from './haproxy-harness.ts';
import { failures, steadyLoad, total, type WrkResult } from './wrk.ts';
import type { HaproxyFixture } from '../drivers/balancer/haproxy-fixture.ts';
import { webTemplate } from './web-template.ts';

const TEMPLATE = webTemplate(1);
// Guests drained for 5 s; balancer.check every 500 ms.
const policy = (pool: string) => haproxyPoolPolicy(pool, { drainTimeout: '5s', check: '  check:\n    interval: 500ms\n' });

/** Steady load for these tests: 8 keep-alive connections, 20 ms between requests on each. */
const LOAD = { connections: 8, delayMs: 20, segmentS: 5, timeoutS: 10 };

async function healthyGuests(gh: GridhostProcess, pool: string): Promise<string[]> {
  const v = await waitUntil(async () => {
    const j = (await getJson(`${gh.api}/api/pools/${pool}`)).json;
    return j.counts?.healthy === 2 && (j.counts?.cloning ?? 0) + (j.counts?.booting ?? 0) === 0 ? j : undefined;
  }, 60_000, 'two healthy guests');
  return (v.guests as Array<{ id: string }>).map((g) => g.id).sort();
}

/** name -> HAProxy's srv_id and address: a server deleted and added again would get a new id. */
async function serverIds(hx: HaproxyFixture, backend: string): Promise<Record<string, string>> {
  const rows = await hx.admin.serversState(backend);
  return Object.fromEntries(rows.filter((r) => r.name.startsWith('gh-')).map((r) => [r.name, `#${r.id} ${r.addr}:${r.port}${r.maint ? ' maint' : r.drain ? ' drain' : ''}`]));
}

function served(runs: readonly WrkResult[], from: number, to: number): number {
  return runs.filter((r) => r.startedAt < to && r.endedAt > from).reduce((n, r) => n + r.requests, 0);
}

test.serial('gridhost SIGKILLed under load and started 10 s later: no request fails, its guests are adopted, HAProxy keeps the very same servers', async (t) => {
  t.timeout(240_000);
  const hx = await startTemplateHaproxy('kx');
  const started: GridhostProcess[] = [];
  let load: ReturnType<typeof steadyLoad> | undefined;
  t.teardown(async () => {
    await load?.stop(true);
    for (const gh of started) await gh.stop('SIGKILL');
    started.at(-1)?.cleanup();
    await hx.stop();
  });
  const opts = { policies: { 'kx.yaml': policy('kx') }, templates: { 'hx.local.yaml': TEMPLATE }, config: haproxyGridhostYaml(hx, '1s') };
  const first = await startGridhost(opts);
  started.push(first);
  const ids = await healthyGuests(first, 'kx');
  const before = await serverIds(hx, 'kx');
  t.deepEqual(Object.keys(before).sort(), ids.map((id) => `gh-${id}`));

  load = steadyLoad({ url: `http://${hx.frontends.kx}/`, ...LOAD });
  await new Promise((r) => setTimeout(r, 3000));
  const killedAt = Date.now();
  t.is(await first.stop('SIGKILL'), null, 'gridhost was killed, not stopped');
  // Down for 10 s: HAProxy serves the guests on its own, and its servers do not change.
  const whileDown: Array<Record<string, string>> = [];
  while (Date.now() - killedAt < 10_000) {
    whileDown.push(await serverIds(hx, 'kx'));
    await new Promise((r) => setTimeout(r, 500));
  }
  const second = await startGridhost({ ...opts, dir: first.dir });
  started.push(second);
  const restartedAt = Date.now();
  const reconciled = await waitUntil(() => second.logs.find((l) => l.msg === 'reconciled'), 30_000, 'the reconcile report');
  t.deepEqual(await healthyGuests(second, 'kx'), ids, 'the same two guests, none launched');
  // Several reconcile periods with gridhost back, under load.
  await new Promise((r) => setTimeout(r, 5000));
  const runs = await load.stop();
  load = undefined;

  const counts = total(runs);
  t.log(`requests ${counts.requests} (${served(runs, killedAt, restartedAt)} while gridhost was down), failed ${runs.reduce((n, r) => n + failures(r), 0)}: ${JSON.stringify(counts)}`);
  t.is(runs.reduce((n, r) => n + failures(r), 0), 0, `failed requests: ${JSON.stringify(counts)}`);
  t.true(served(runs, killedAt + 1000, restartedAt - 1000) > 100, 'HAProxy served while gridhost was down');
  t.deepEqual([...(reconciled.adopted as string[])].sort(), ids, 'both guests adopted');
  t.like(reconciled, { undone: [], 'balancer-orphan': [], 'balancer-missing': [] }, 'nothing undone, no balancer entry added or removed');
  for (const s of whileDown) t.deepEqual(s, before, 'HAProxy\'s servers did not change while gridhost was down');
  t.deepEqual(await serverIds(hx, 'kx'), before, 'after the restart: the same servers (same HAProxy ids and addresses), none added, none dropped');
  t.deepEqual(new Set(Object.values(before).map((v) => v.split(' ')[1])).size, 2, 'two servers, two different guests');
});

test.serial('HAProxy reloaded under load: its dynamic servers vanish and gridhost adds them back within one reconcile period', async (t) => {
  t.timeout(180_000);
  const hx = await startTemplateHaproxy('rx');
  let gh: GridhostProcess | undefined;
  let load: ReturnType<typeof steadyLoad> | undefined;
  t.teardown(async () => {
    await load?.stop(true);
    await gh?.stop();
    gh?.cleanup();
    await hx.stop();
  });
  const reconcileMs = 2000; // gridhost.yaml's default haproxy.reconcile_interval
  gh = await startGridhost({ policies: { 'rx.yaml': policy('rx') }, templates: { 'hx.local.yaml': TEMPLATE }, config: haproxyGridhostYaml(hx, '2s') });
  const ids = await healthyGuests(gh, 'rx');
  const want = ids.map((id) => `gh-${id}`);
  load = steadyLoad({ url: `http://${hx.frontends.rx}/`, ...LOAD });
  await new Promise((r) => setTimeout(r, 3000));

  const reloadAt = Date.now();
  await hx.reload();
  const newWorkerAt = Date.now();
  await waitUntil(async () => {
    const names = [...(await haproxyServers(hx, 'rx')).keys()].sort();
    return names.length === want.length && names.every((n, i) => n === want[i]);
  }, 10_000, 'the servers back in the reloaded HAProxy', 20);
  const backAt = Date.now();
  await new Promise((r) => setTimeout(r, 4000));
  const runs = await load.stop();
  load = undefined;

  const counts = total(runs);
  const failed = runs.reduce((n, r) => n + failures(r), 0);
  const rate = counts.requests / runs.reduce((s, r) => s + r.durationS, 0);
  t.log(`reload: new worker after ${newWorkerAt - reloadAt} ms, servers back ${backAt - newWorkerAt} ms later; ${failed} of ${counts.requests} requests failed at ${rate.toFixed(0)} req/s: ${JSON.stringify(counts)}`);
  t.true(backAt - newWorkerAt <= reconcileMs, `back ${backAt - newWorkerAt} ms after the new worker answered; one reconcile period is ${reconcileMs} ms`);
  // The driver adds back only servers HAProxy lacks: its warning is the proof that the reload dropped them
  // (listing them right after the reload races with gridhost's 250 ms watch).
  t.true(gh.logs.some((l) => l.event === 'haproxy' && l.kind === 'readded' && l.level === 'warn'), 'a warning says the servers were added again');
  t.deepEqual((await getJson(`${gh.api}/api/pools/rx`)).json.blocked, undefined);
});
