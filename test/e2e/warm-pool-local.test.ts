// The warm pool (policy warm_pool, issue 14) with real local guests: warm guests are made and
// paused (a stopped process group, out of the balancer, not counted); a scale-out takes one and it
// serves in well under a cold launch's time (both measured, decision to serving); the warm pool
// refills; a SIGKILLed gridhost's successor adopts the paused guest (never undoes it); a warm
// guest trimmed from a lowered warm_pool leaves no process, clone or record behind; a killed
// guest's auto-heal replacement is the warm guest, unpaused.
//
// The guests boot through a wrapper that waits 2.5 s before the service listens: it stands for
// the guest OS's boot (12-16 s on the idle Xen lab), which a cold launch pays and a warm one has
// already paid. The plain image's figures are in `npm run bench`.
import test from 'ava';
import { chmodSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import {
  freePort, getJson, gridhostsOf, guestRecords, processAlive, processesUnder, request, waitUntil, workspace, type GridhostProcess,
} from './harness.ts';

const TOKEN = 'warm-pool-e2e-token-0123456789abcdef';
/** The guest OS's boot, emulated: what a cold launch pays before the service listens. */
const BOOT_DELAY_MS = 2500;
const BOOT_DELAY = `#!/bin/sh\nsleep ${BOOT_DELAY_MS / 1000}\nexec node server.mjs\n`;
const TEMPLATE = `command: sh
args: ["slow-start.sh"]
env:
  HOST: "127.0.0.1"
  PORT: "{{port}}"
  GUEST_ID: "{{guest}}"
  WORK_MS: "2"
`;

function policy(pool: string, lbPort: number, warm: number | undefined): string {
  return `pool: ${pool}
min: 1
max: 4
guest:
  driver: local
  template: slow.local.yaml
  image: images/slow
  boot_timeout: 30s
  stop_timeout: 3s
  drain_timeout: 2s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 30s
warmup: 500ms
scale_out:
  cooldown: 0s
scale_in:
  cooldown: 0s
  stabilization: 0s
${warm === undefined ? '' : `warm_pool:\n  size: ${warm}\n`}rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 100000
    for: 2
    step: +1
`;
}

const view = async (gh: GridhostProcess, pool: string) => (await getJson(`${gh.api}/api/pools/${pool}`)).json;
const guestsIn = (v: any, state: string): any[] => (v.guests as any[]).filter((g) => g.state === state);
const post = (gh: GridhostProcess, path: string, body: unknown) =>
  request(`${gh.api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ by: 'tester@ci', ...(body as object) }) });

/** /proc state letter of a pid (T: stopped). */
const procState = (pid: number): string | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
};

/** GET that resolves with the status, or 'timeout' when nothing answers within `ms`. */
const probe = (address: string, ms: number): Promise<number | 'timeout' | 'error'> => new Promise((resolve) => {
  const req = http.get(`http://${address}/healthz`, { agent: false }, (res) => {
    res.resume();
    resolve(res.statusCode ?? 0);
  });
  req.setTimeout(ms, () => {
    req.destroy();
    resolve('timeout');
  });
  req.on('error', () => resolve('error'));
});

/** Ask for one more guest by hand (the loop decides and acts at once); ms until it serves. */
async function scaleOutServing(gh: GridhostProcess, pool: string, to: number): Promise<number> {
  const t0 = performance.now();
  const r = await post(gh, `/api/pools/${pool}/scale`, { desired: to });
  if (r.status !== 200) throw new Error(`scale ${pool}: ${r.status} ${r.body}`);
  await waitUntil(async () => guestsIn(await view(gh, pool), 'healthy').length === to, 60_000, `${pool} at ${to} healthy`, 20);
  return performance.now() - t0;
}

/** A workspace whose `slow` image boots through the BOOT_DELAY wrapper, and a starter of
 *  gridhosts on it with the API token; every gridhost, guest and the workspace go at teardown. */
function slowWorkspace(t: { teardown(fn: () => Promise<void>): void }, policies: Record<string, string>) {
  const dir = workspace({ policies, templates: { 'slow.local.yaml': TEMPLATE } });
  const slow = join(dir, 'templates', 'images', 'slow');
  cpSync(join(dir, 'templates', 'images', 'web'), slow, { recursive: true });
  writeFileSync(join(slow, 'slow-start.sh'), BOOT_DELAY);
  chmodSync(join(slow, 'slow-start.sh'), 0o755);
  const fleet = gridhostsOf(t, dir);
  return { dir, start: () => fleet.start({ dir, policies, env: { GRIDHOST_API_TOKEN: TOKEN } }) };
}

test('warm guests are made paused and not counted; a scale-out takes one and serves well before a cold one; the warm pool refills; a restart adopts it; a trimmed one leaves nothing', async (t) => {
  t.timeout(300_000);
  const [warmLb, coldLb] = [await freePort(), await freePort()];
  const policies = { 'wp.yaml': policy('wp', warmLb, 1), 'cp.yaml': policy('cp', coldLb, undefined) };
  const { dir, start } = slowWorkspace(t, policies);
  let gh = await start();

  // 1. One serving guest and one warm guest: paused, out of the balancer, not counted.
  const first = await waitUntil(async () => {
    const v = await view(gh, 'wp');
    return guestsIn(v, 'healthy').length === 1 && guestsIn(v, 'warm').length === 1 ? v : undefined;
  }, 60_000, 'wp: 1 healthy and 1 warm guest');
  const warm = guestsIn(first, 'warm')[0];
  t.deepEqual(first.warmPool, { target: 1, warm: 1, warming: 0 });
  t.deepEqual((first.backends as any[]).map((b) => b.id), [guestsIn(first, 'healthy')[0].id], 'the warm guest is not in the balancer');
  t.is(first.recommended, 1, 'the pool\'s size is 1: the warm guest is not counted');
  const rec = guestRecords(dir, 'wp').find((r) => r.id === warm.id)!;
  t.truthy(rec, 'the warm guest was booted');
  t.is(procState(rec.pid), 'T', 'its process group is stopped (paused)');
  const answered = await probe(warm.address, 500);
  // Who answered, if anything did: the example guest names itself in its answer to `/`.
  const who = answered === 'timeout' ? '' : (await request(`http://${warm.address}/?ms=0`, { timeoutMs: 2000 }).catch((e) => ({ status: 0, body: String(e) }))).body.trim();
  t.is(answered, 'timeout', `a paused guest answers nothing (at ${warm.address} the answer came from: ${who || '?'}; the warm guest is ${warm.id})`);
  t.deepEqual(await guestHistory(gh, 'wp', warm.id), ['clone', 'boot', 'health', 'pause']);
  // The cold pool has no warm pool and no warm guests.
  await waitUntil(async () => guestsIn(await view(gh, 'cp'), 'healthy').length === 1, 60_000, 'cp: 1 healthy');
  t.is((await view(gh, 'cp')).warmPool, undefined);

  // 2. Warm scale-out: the warm guest itself serves, well before a cold one would.
  const warmMs = await scaleOutServing(gh, 'wp', 2);
  const after = await view(gh, 'wp');
  t.true(guestsIn(after, 'healthy').some((g) => g.id === warm.id), 'the warm guest was taken');
  t.not(procState(rec.pid), 'T', 'and runs again');
  t.true((after.backends as any[]).some((b) => b.id === warm.id && b.healthy), 'and is in the balancer');
  const served = await request(`http://127.0.0.1:${warmLb}/work`);
  t.is(served.status, 200);

  // 3. The warm pool refills in the background, with another guest.
  const refill = await waitUntil(async () => guestsIn(await view(gh, 'wp'), 'warm')[0], 60_000, 'wp: a new warm guest');
  t.not(refill.id, warm.id);

  // 4. Cold scale-out of the same image, measured the same way.
  const coldMs = await scaleOutServing(gh, 'cp', 2);
  t.log(`decision to serving: warm ${warmMs.toFixed(0)} ms, cold ${coldMs.toFixed(0)} ms`);
  t.true(warmMs < coldMs, `warm ${warmMs.toFixed(0)} ms < cold ${coldMs.toFixed(0)} ms`);
  t.true(warmMs < BOOT_DELAY_MS, `warm ${warmMs.toFixed(0)} ms is under the guest's ${BOOT_DELAY_MS} ms boot alone`);
  const metrics = (await request(`${gh.api}/metrics`)).body;
  // The first guest of each pool (the scale-out to min at start) came cold: no guest was warm yet.
  t.regex(metrics, /gridhost_scale_out_guests_total\{pool="wp",path="warm"\} 1\n/);
  t.regex(metrics, /gridhost_scale_out_guests_total\{pool="wp",path="cold"\} 1\n/);
  t.regex(metrics, /gridhost_scale_out_guests_total\{pool="cp",path="cold"\} 2\n/);
  t.notRegex(metrics, /gridhost_scale_out_guests_total\{pool="cp",path="warm"\}/);
  t.regex(metrics, /gridhost_warm_guests\{pool="wp"\} 1\b/);

  // 5. SIGKILL mid-life: the next gridhost adopts the paused guest as warm; nothing is undone.
  const refillRec = guestRecords(dir, 'wp').find((r) => r.id === refill.id)!;
  t.is(procState(refillRec.pid), 'T');
  await gh.stop('SIGKILL');
  gh = await start();
  await waitUntil(() => gh.logs.some((l) => l.msg === 'reconciled' && l.pool === 'wp'), 60_000, 'wp reconciled by the new gridhost');
  const repairs = gh.logs.filter((l) => l.event === 'repair' && l.guest === refill.id);
  t.deepEqual(repairs.map((l) => l.kind), ['warm-adopted'], JSON.stringify(repairs));
  // A few ticks later: the same guest, same process, still paused, and no second warm guest.
  await new Promise((r) => setTimeout(r, 3000));
  const adopted = await view(gh, 'wp');
  t.deepEqual(guestsIn(adopted, 'warm').map((g) => g.id), [refill.id]);
  t.is(guestsIn(adopted, 'warming').length, 0);
  t.true(processAlive(refillRec.pid, refillRec.startTime));
  t.is(procState(refillRec.pid), 'T');

  // 6. warm_pool lowered to 0: the paused guest is retired and leaves nothing.
  writeFileSync(join(dir, 'policies', 'wp.yaml'), policy('wp', warmLb, 0));
  // Its record says gone once every step is done (stop, then the clone deleted).
  await waitUntil(async () => (await getJson(`${gh.api}/api/pools/wp/guests/${refill.id}`)).json.state === 'gone', 60_000, 'the warm guest retired');
  t.false(processAlive(refillRec.pid), 'its process is gone');
  t.false(existsSync(refillRec.clonePath), 'its clone is deleted');
  t.deepEqual(processesUnder(refillRec.clonePath), []);
  t.is(guestsIn(await view(gh, 'wp'), 'warm').length, 0);
  t.is((await view(gh, 'wp')).warmPool, undefined);
  // The pool kept serving on its own guests throughout.
  t.is(guestsIn(await view(gh, 'wp'), 'healthy').length, 2);
});

test('a killed guest is replaced by the warm guest (auto-heal unpauses it, no cold launch), and the warm pool refills', async (t) => {
  t.timeout(180_000);
  const policies = { 'wp.yaml': policy('wp', await freePort(), 1) };
  const { dir, start } = slowWorkspace(t, policies);
  const gh = await start();
  const ready = await waitUntil(async () => {
    const v = await view(gh, 'wp');
    return guestsIn(v, 'healthy').length === 1 && guestsIn(v, 'warm').length === 1 ? v : undefined;
  }, 60_000, 'wp: 1 healthy and 1 warm guest');
  const [victim, warm] = [guestsIn(ready, 'healthy')[0], guestsIn(ready, 'warm')[0]];
  const victimRec = guestRecords(dir, 'wp').find((r) => r.id === victim.id)!;
  const t0 = performance.now();
  process.kill(victimRec.pid, 'SIGKILL');
  const healed = await waitUntil(async () => {
    const v = await view(gh, 'wp');
    const healthy = guestsIn(v, 'healthy');
    return healthy.length === 1 && healthy[0].id !== victim.id ? healthy[0] : undefined;
  }, 60_000, 'wp: the killed guest replaced', 20);
  const healMs = performance.now() - t0;
  t.log(`killed to replacement serving: ${healMs.toFixed(0)} ms`);
  t.is(healed.id, warm.id, 'the warm guest is the replacement');
  const history = await guestHistory(gh, 'wp', warm.id);
  t.true(history.includes('unpause'), history.join(' '));
  t.is(history.filter((a) => a === 'clone' || a === 'boot').length, 2, `made once, unpaused, not launched again: ${history.join(' ')}`);
  // The event ends once the killed guest's record is retired, just after the replacement serves.
  const replace = await waitUntil(async () => ((await getJson(`${gh.api}/api/events?pool=wp`)).json.events as any[]).find((e) => e.direction === 'replace' && e.outcome !== 'started'), 30_000, 'wp: the replace event ended');
  t.is(replace.outcome, 'done');
  t.regex(replace.detail ?? '', new RegExp(`launched ${warm.id}; retired ${victim.id}`), JSON.stringify(replace));
  const refill = await waitUntil(async () => guestsIn(await view(gh, 'wp'), 'warm')[0], 60_000, 'wp: a new warm guest');
  t.false([victim.id, warm.id].includes(refill.id));
});

async function guestHistory(gh: GridhostProcess, pool: string, id: string): Promise<string[]> {
  return ((await getJson(`${gh.api}/api/pools/${pool}/guests/${id}`)).json.history as any[]).map((h) => h.action);
}

test('a gridhost SIGKILLed while a warm guest is being made: the next one undoes it (half-made), leaves nothing of it, and makes another', async (t) => {
  t.timeout(180_000);
  const policies = { 'wp.yaml': policy('wp', await freePort(), 1) };
  const { dir, start } = slowWorkspace(t, policies);
  let gh = await start();
  // Killed while the warm guest's process runs but before it is healthy and paused (its 2.5 s boot).
  const half = await waitUntil(async () => {
    const w = guestsIn(await view(gh, 'wp'), 'warming')[0];
    return w && guestRecords(dir, 'wp').find((r) => r.id === w.id);
  }, 60_000, 'a warming guest with its process running', 20);
  await gh.stop('SIGKILL');
  t.true(processAlive(half.pid, half.startTime), 'its process outlived gridhost');
  gh = await start();
  const reconciled = await waitUntil(() => gh.logs.find((l) => l.msg === 'reconciled' && l.pool === 'wp'), 60_000, 'wp reconciled');
  t.true((reconciled.undone as string[]).includes(half.id), JSON.stringify(reconciled));
  t.false(processAlive(half.pid, half.startTime), 'its process is gone');
  t.false(existsSync(half.clonePath), 'its clone is deleted');
  t.is((await getJson(`${gh.api}/api/pools/wp/guests/${half.id}`)).json.state, 'failed');
  const again = await waitUntil(async () => guestsIn(await view(gh, 'wp'), 'warm')[0], 60_000, 'a new warm guest');
  t.not(again.id, half.id);
});
