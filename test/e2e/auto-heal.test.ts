// Sick guests under real load, with a real gridhost and real guest processes: a guest killed
// from outside, a guest hung with SIGSTOP, and every guest failing its health check at once.
// Each case: what clients see, what the balancer and the API say, and the replacement.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import {
  cloneDirs, freePort, getJson, guestRecords, openLoopLoad, processAlive, request, sleep, startGridhost, waitUntil, type GridhostProcess,
} from './harness.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'heal';
const CHECK = { intervalMs: 500, timeoutMs: 500, fall: 2 };

function policy(lbPort: number, extra = ''): string {
  return `pool: ${POOL}
min: 2
max: 4
guest:
  driver: local
  template: heal.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 1s
  drain_timeout: 1s
balancer:
  listen: 127.0.0.1:${lbPort}
  check:
    interval: ${CHECK.intervalMs}ms
    timeout: ${CHECK.timeoutMs}ms
    rise: 2
    fall: ${CHECK.fall}
  response_timeout: 3s
${extra}sampling:
  interval: 500ms
  window: 30s
warmup: 0s
rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 10000
    for: 2
    step: +1
`;
}

const TEMPLATE = webTemplate(2);

interface Rig {
  gh: GridhostProcess;
  front: string;
  view: () => Promise<any>;
  healthy: () => Promise<string[]>;
}

async function start(t: { teardown(fn: () => Promise<void>): void }, extra = ''): Promise<Rig> {
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'heal.yaml': policy(lbPort, extra) }, templates: { 'heal.local.yaml': TEMPLATE } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  const view = async () => (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
  const healthy = async () => ((await view()).guests as any[]).filter((g) => g.state === 'healthy').map((g) => g.id as string);
  await waitUntil(async () => (await healthy()).length === 2 && (await view()).backends.every((b: any) => b.healthy), 60_000, 'two healthy guests in rotation');
  return { gh, front: `http://127.0.0.1:${lbPort}/`, view, healthy };
}

const at = (l: Record<string, unknown>) => Date.parse(String(l.timestamp));

/** The replace event of `sick`, once it has ended. */
async function replaceEvent(r: Rig, sick: string): Promise<any> {
  return waitUntil(async () => {
    const events = (await getJson(`${r.gh.api}/api/events?pool=${POOL}&limit=1000`)).json.events as any[];
    return events.find((e) => e.direction === 'replace' && e.reason.startsWith(`replace ${sick}: `) && e.outcome !== 'started');
  }, 30_000, `the replace event of ${sick} to end`);
}

test.serial('a guest killed from outside is noticed, replaced and retired while clients see no failure', async (t) => {
  t.timeout(120_000);
  const r = await start(t);
  const [victim, survivor] = await r.healthy();
  const rec = guestRecords(r.gh.dir, POOL).find((g) => g.id === victim)!;
  const load = openLoopLoad(r.front, 50);
  await sleep(1000);
  const killedAt = Date.now();
  process.kill(-rec.pid, 'SIGKILL');
  const replaced = await waitUntil(async () => {
    const ids = await r.healthy();
    return ids.length === 2 && !ids.includes(victim!) ? ids : undefined;
  }, 30_000, 'the killed guest replaced by a new healthy one');
  const servingAgainAt = Date.now();
  await sleep(1000);
  await load.stop();

  t.true(replaced.includes(survivor!));
  const sick = r.gh.logs.find((l) => l.event === 'guest' && l.action === 'sick' && l.guest === victim);
  t.truthy(sick, 'a warn line says it is sick and why');
  t.is(sick?.level, 'warn');
  t.regex(String(sick?.reason), /process is gone|failed its health check/);
  const ev = await replaceEvent(r, victim!);
  t.like(ev, { outcome: 'done', from: 2, to: 2 });
  t.regex(ev.detail, new RegExp(`launched ${replaced.find((id) => id !== survivor)}; retired ${victim}`));
  t.is(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('\n'));
  t.true(load.stats.ok > 50);
  const noticed = at(sick!) - killedAt;
  t.log(`killed -> marked sick ${noticed} ms, -> replacement serving ${servingAgainAt - killedAt} ms; ${load.stats.ok} requests, ${load.stats.failed} failed`);
  const metrics = (await request(`${r.gh.api}/metrics`)).body;
  t.regex(metrics, new RegExp(`gridhost_guests_sick_total\\{pool="${POOL}",cause="(gone|health)"\\} [1-9]`));
  t.regex(metrics, new RegExp(`gridhost_guest_replacements_total\\{pool="${POOL}",cause="(gone|health)",outcome="done"\\} [1-9]`));
});

test.serial('with auto_heal off a guest killed from outside is still noticed: marked sick, out of the balancer, retired with its clone, and min brings the pool back', async (t) => {
  t.timeout(120_000);
  const r = await start(t, 'auto_heal:\n  enabled: false\n');
  const [victim, survivor] = await r.healthy();
  const rec = guestRecords(r.gh.dir, POOL).find((g) => g.id === victim)!;
  const load = openLoopLoad(r.front, 50);
  await sleep(1000);
  const killedAt = Date.now();
  process.kill(-rec.pid, 'SIGKILL');
  // Seen at once: the store, the API and the metric no longer count it as healthy.
  const sick = await waitUntil(() => r.gh.logs.find((l) => l.event === 'guest' && l.action === 'sick' && l.guest === victim), 10_000, 'the killed guest marked sick');
  const counted = await waitUntil(async () => {
    const pools = (await getJson(`${r.gh.api}/api/pools`)).json.pools as any[];
    const p = pools.find((x) => x.pool === POOL);
    return p && (p.guests.healthy ?? 0) === 1 ? p : undefined;
  }, 10_000, 'GET /api/pools to count one healthy guest', 50);
  // The gauges are written later in the same tick as the store: looked at until they agree.
  await waitUntil(async () => (await request(`${r.gh.api}/metrics`)).body.includes(`gridhost_guests{pool="${POOL}",state="healthy"} 1`), 10_000, 'gridhost_guests{state="healthy"} to say 1', 50);
  // Then retired (no replacement of auto-heal's own), and the pool's min launches another.
  const back = await waitUntil(async () => {
    const ids = await r.healthy();
    const v = await r.view();
    return ids.length === 2 && !ids.includes(victim!) && (v.guests as any[]).length === 2 ? ids : undefined;
  }, 40_000, 'the pool back at min with a new guest and nothing else live');
  const backAt = Date.now();
  await sleep(1000);
  await load.stop();

  t.is(sick.level, 'warn');
  t.regex(String(sick.reason), /process is gone/);
  t.true(counted.size <= 1, `size ${counted.size} right after the kill`);
  t.true(back.includes(survivor!));
  const v = await r.view();
  t.deepEqual((v.backends as any[]).map((b) => b.id).sort(), [...back].sort(), 'the balancer has exactly the live guests');
  t.false(cloneDirs(r.gh.dir, POOL).some((d) => d.includes(victim!)), 'the killed guest\'s clone is deleted');
  t.false(existsSync(rec.clonePath));
  const events = (await getJson(`${r.gh.api}/api/events?pool=${POOL}&limit=1000`)).json.events as any[];
  t.false(events.some((e) => e.direction === 'replace'), 'auto-heal off replaces nothing itself');
  const out = events.find((e) => e.direction === 'scale-out' && e.from === 1);
  t.regex(out?.reason ?? '', /below min 2/);
  t.is(out?.outcome, 'done');
  t.log(`killed -> marked sick ${at(sick) - killedAt} ms, -> back at 2 healthy ${backAt - killedAt} ms; ${load.stats.ok} requests, ${load.stats.failed} failed`);
});

test.serial('a guest hung with SIGSTOP leaves rotation after fall failed checks, only its requests in flight fail, and it is replaced', async (t) => {
  t.timeout(120_000);
  const r = await start(t);
  const [hung] = await r.healthy();
  const rec = guestRecords(r.gh.dir, POOL).find((g) => g.id === hung)!;
  const load = openLoopLoad(r.front, 50);
  await sleep(1000);
  const stoppedAt = Date.now();
  process.kill(-rec.pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(-rec.pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  });
  // The balancer says it is down; from then on it gets no request.
  const down = await waitUntil(() => r.gh.logs.find((l) => l.event === 'balancer' && l.kind === 'unhealthy' && l.backend === hung), 20_000, 'the hung guest reported down');
  const b = await waitUntil(async () => ((await r.view()).backends as any[]).find((x) => x.id === hung && !x.healthy) ?? (((await r.view()).backends as any[]).some((x) => x.id === hung) ? undefined : { served: 0, failed: 0, active: 0, gone: true }), 10_000, 'the balancer shows it down');
  const sentToHung = b.gone ? Infinity : b.served + b.failed + b.active;
  const replaced = await waitUntil(async () => {
    const ids = await r.healthy();
    return ids.length === 2 && !ids.includes(hung!) ? ids : undefined;
  }, 30_000, 'the hung guest replaced');
  await waitUntil(() => !processAlive(rec.pid), 20_000, 'the hung guest stopped (SIGKILL after stop_timeout)');
  await sleep(1000);
  await load.stop();

  t.is(down.level, 'warn');
  t.regex(String(down.reason), new RegExp(`${CHECK.fall} consecutive health checks of /healthz failed, the last: timeout after ${CHECK.timeoutMs} ms`));
  // Clients lose at most the requests the hung guest had taken before it left rotation.
  t.true(load.stats.failed <= sentToHung, `${load.stats.failed} failed, ${sentToHung} had been sent to the hung guest`);
  t.true(load.stats.ok > 50);
  const ev = await replaceEvent(r, hung!);
  t.regex(ev.reason, new RegExp(`^replace ${hung}: failed its health check ${CHECK.fall} times in a row after being healthy, the last: timeout after ${CHECK.timeoutMs} ms`));
  t.is(ev.outcome, 'done');
  t.is(replaced.length, 2);
  const outAfter = at(down) - stoppedAt;
  // Checks start every interval (start to start) and time out within it: a hang is seen by the
  // first check that starts after it, so it is out within (fall + 1) x interval.
  t.log(`SIGSTOP -> out of rotation ${outAfter} ms (bound (fall + 1) x interval = ${(CHECK.fall + 1) * CHECK.intervalMs} ms); ${sentToHung} requests had reached it; ${load.stats.failed} of ${load.stats.ok + load.stats.failed} failed`);
});

test.serial('every guest failing its health check at once: the front end keeps answering (fail-open), and it is reported', async (t) => {
  t.timeout(120_000);
  const r = await start(t);
  const ids = await r.healthy();
  const load = openLoopLoad(r.front, 50);
  await sleep(500);
  for (const id of ids) writeFileSync(join(r.gh.dir, 'data', 'guests', POOL, id, 'unhealthy'), 'x');
  const open = await waitUntil(() => r.gh.logs.find((l) => l.event === 'balancer' && l.kind === 'fail-open'), 20_000, 'fail-open reported');
  await sleep(3000); // clients keep being served over several sampling ticks
  const health = (await getJson(`${r.gh.api}/healthz`)).json;
  const view = await r.view();
  const metrics = (await request(`${r.gh.api}/metrics`)).body;
  await load.stop();

  t.is(load.stats.failed, 0, `fail-open: no 503 for everyone (${load.stats.errors.slice(0, 3).join('; ')})`);
  t.true(load.stats.ok > 40);
  t.is(open.level, 'warn');
  t.regex(String(open.reason), /0 of 2 backends pass their health check \(panic threshold 50%\): requests now go to all 2/);
  for (const id of ids) {
    const down = r.gh.logs.find((l) => l.event === 'balancer' && l.kind === 'unhealthy' && l.backend === id);
    t.regex(String(down?.reason), /failed, the last: HTTP 503/, `down line for ${id}`);
  }
  t.is(health.status, 'degraded');
  t.is(health.degraded[0].pool, POOL);
  t.regex(health.degraded[0].reason, /^fail-open/);
  t.true(view.serving);
  t.true(view.failOpen);
  t.deepEqual((await r.healthy()).sort(), [...ids].sort(), 'failing checks while failing open replace nobody');
  t.true(metrics.includes(`gridhost_balancer_fail_open{pool="${POOL}"} 1`));
  t.true(metrics.includes(`gridhost_balancer_fail_open_total{pool="${POOL}"} 1`));
  t.true(metrics.includes(`gridhost_pool_serving{pool="${POOL}"} 1`));
  t.true(metrics.includes(`gridhost_balancer_no_backend_total{pool="${POOL}"} 0`));
});

test.serial('with fail-open off, a pool whose guests all fail is reported as not serving, and auto-heal brings it back', async (t) => {
  t.timeout(120_000);
  const r = await start(t, '  panic_threshold: 0\n');
  const ids = await r.healthy();
  for (const id of ids) writeFileSync(join(r.gh.dir, 'data', 'guests', POOL, id, 'unhealthy'), 'x');
  // Looked at from the moment the checks fail: the replacements take seconds to serve (launch,
  // then `rise` passing checks), so the pool is seen without a backend first.
  const view = await waitUntil(async () => {
    const v = await r.view();
    return v.serving === false ? v : undefined;
  }, 20_000, 'the pool shown as not serving', 50);
  const health = (await getJson(`${r.gh.api}/healthz`)).json;
  const metrics = (await request(`${r.gh.api}/metrics`)).body;
  const none = await waitUntil(() => r.gh.logs.find((l) => l.event === 'balancer' && l.kind === 'no-backend'), 20_000, 'no backend reported');
  t.is(none.level, 'error');
  t.regex(String(none.reason), /clients get 503/);
  t.regex(view.servingReason, /clients get 503/);
  t.is(health.status, 'degraded');
  t.regex(health.degraded[0].reason, /no healthy backend, clients get 503/);
  t.true(metrics.includes(`gridhost_pool_serving{pool="${POOL}"} 0`));
  // Both were healthy and then failed: both are replaced (one at a time), and the pool serves.
  await waitUntil(async () => {
    const now = await r.healthy();
    return now.length === 2 && now.every((id) => !ids.includes(id));
  }, 60_000, 'both guests replaced');
  await waitUntil(async () => (await r.view()).serving, 10_000, 'serving again');
  t.is((await request(r.front)).status, 200);
  t.true(r.gh.logs.some((l) => l.event === 'balancer' && l.kind === 'serving' && l.level === 'info'));
  t.is((await getJson(`${r.gh.api}/healthz`)).json.status, 'ok');
});
