// Restarts lose nothing: a crash (SIGKILL) in the middle of a launch leaves a half-made guest
// that the next gridhost undoes before it launches anew; a clean stop (SIGTERM) leaves healthy
// guests running and the next gridhost adopts exactly those, launching none.
import test from 'ava';
import { chmodSync, cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort, getJson, gridhostsOf, guestRecords, processAlive, request, sleep, waitUntil, workspace, type GridhostProcess,
} from './harness.ts';
import { idlePoolPolicy } from './idle-pool-policy.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'rs';

const policy = (template: string, image: string, lbPort: number) => idlePoolPolicy({ pool: POOL, lbPort, max: 8, template, image });

const WEB_TEMPLATE = webTemplate(2);

// The slow image: the example server behind a wrapper that waits 3 s before it listens, so a
// launch spends seconds in `booting` with its process already running.
const SLOW_TEMPLATE = `command: sh
args: ["slow-start.sh"]
env:
  HOST: "127.0.0.1"
  PORT: "{{port}}"
  GUEST_ID: "{{guest}}"
  WORK_MS: "2"
`;
const SLOW_WRAPPER = '#!/bin/sh\nsleep 3\nexec node server.mjs\n';

async function poolView(gh: GridhostProcess) {
  return (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
}

const twoHealthy = (gh: GridhostProcess) => async () => {
  const v = await poolView(gh);
  return v.counts?.healthy === 2 && v.counts.booting === 0 && v.counts.cloning === 0 && v.backends.filter((b: any) => b.healthy).length === 2 && v;
};

test.serial('a guest half-made when gridhost was killed is undone at the next start (process and clone gone), then the pool is rebuilt', async (t) => {
  t.timeout(90_000);
  const lbPort = await freePort();
  const policies = { 'rs.yaml': policy('slow.local.yaml', 'images/slow', lbPort) };
  const templates = { 'slow.local.yaml': SLOW_TEMPLATE };
  const dir = workspace({ policies, templates });
  const { start } = gridhostsOf(t, dir);
  cpSync(join(dir, 'templates', 'images', 'web'), join(dir, 'templates', 'images', 'slow'), { recursive: true });
  writeFileSync(join(dir, 'templates', 'images', 'slow', 'slow-start.sh'), SLOW_WRAPPER);
  chmodSync(join(dir, 'templates', 'images', 'slow', 'slow-start.sh'), 0o755);

  const first = await start({ dir, policies, templates });
  // As soon as a guest is booting with its process started, kill gridhost outright. Both guests
  // of the first launch are in the store by then (each is recorded before its clone starts).
  const atKill = await waitUntil(async () => {
    const guests: { id: string; state: string }[] = (await poolView(first)).guests;
    const booting = guests.filter((g) => g.state === 'booting').map((g) => g.id);
    return guestRecords(dir, POOL).some((r) => booting.includes(r.id)) && guests;
  }, 30_000, 'a booting guest with a running process', 50);
  t.is(await first.stop('SIGKILL'), null);
  const halfMade = atKill.map((g) => g.id).sort();
  t.is(halfMade.length, 2);
  t.true(atKill.every((g) => g.state === 'cloning' || g.state === 'booting'), JSON.stringify(atKill));

  // The crash left them: the booted ones' processes running, their clones on disk.
  const records = guestRecords(dir, POOL);
  t.true(records.length >= 1);
  for (const r of records) {
    t.true(halfMade.includes(r.id));
    t.true(processAlive(r.pid, r.startTime), `half-made guest ${r.id} should still run after the crash`);
    t.true(existsSync(r.clonePath), `clone of ${r.id} should still exist after the crash`);
  }
  t.false(first.logs.some((l) => l.event === 'guest' && l.action === 'register'), 'the guests were killed mid-launch, before registering');

  // Restart on the same data: the half-made guests are undone before any loop runs.
  const second = await start({ dir, policies, templates });
  // The killed gridhost's lease on the pool runs out (GRIDHOST_LEASE, 5 s here), then the new
  // one takes the pool and repairs it before its loop starts.
  const reconciled = await waitUntil(() => second.logs.find((l) => l.msg === 'reconciled'), 20_000, 'reconciled line');
  t.deepEqual([...(reconciled?.undone as string[])].sort(), halfMade);
  t.deepEqual(reconciled?.adopted, []);
  for (const id of halfMade) {
    const line = second.logs.find((l) => l.event === 'guest' && l.guest === id && l.action === 'cleaned-up');
    t.like(line, { pool: POOL, to: 'failed' }, `no cleanup step for ${id}`);
    t.regex(String(line?.reason), /^launch cut short \((cloning|booting)\) with nothing acting on it$/);
    t.false(existsSync(join(dir, 'data', 'guests', POOL, id)), `clone of ${id} left after the restart`);
  }
  for (const r of records) t.false(processAlive(r.pid, r.startTime), `half-made guest ${r.id} still running after the restart`);

  // Then the pool is built anew from other guests.
  const view = await waitUntil(twoHealthy(second), 45_000, 'two healthy guests after the restart', 200);
  const ids: string[] = view.guests.map((g: any) => g.id);
  for (const id of ids) t.false(halfMade.includes(id), 'a half-made guest came back');
  t.is(guestRecords(dir, POOL).length, 2, 'exactly the two new clones remain');
});

test.serial('after a clean stop the next gridhost adopts the same two running guests and launches none', async (t) => {
  t.timeout(90_000);
  const { start } = gridhostsOf(t);
  const lbPort = await freePort();
  const policies = { 'rs.yaml': policy('rs.local.yaml', 'images/web', lbPort) };
  const templates = { 'rs.local.yaml': WEB_TEMPLATE };
  const first = await start({ policies, templates });
  const dir = first.dir;
  const view = await waitUntil(twoHealthy(first), 40_000, 'two healthy guests', 200);
  const ids: string[] = view.guests.map((g: any) => g.id).sort();
  t.is(ids.length, 2);

  t.is(await first.stop('SIGTERM'), 0);
  await waitUntil(() => first.logs.find((l) => l.msg === 'gridhost stopped'), 5_000, 'stopped line');
  const records = guestRecords(dir, POOL);
  t.deepEqual(records.map((r) => r.id).sort(), ids);
  for (const r of records) t.true(processAlive(r.pid, r.startTime), `guest ${r.id} stopped with gridhost`);

  const second = await start({ dir, policies, templates });
  // Repair runs before the API listens; once "gridhost ready" is read, every earlier line is too.
  await waitUntil(() => second.logs.find((l) => l.msg === 'gridhost ready'), 10_000, 'ready line');
  const adopted = second.logs.filter((l) => l.event === 'guest' && l.action === 'adopt').map((l) => l.guest as string).sort();
  t.deepEqual(adopted, ids);
  // Several sampling intervals later: the same guests, healthy, behind the front end; no launch.
  await waitUntil(twoHealthy(second), 20_000, 'adopted guests healthy behind the balancer', 200);
  await sleep(3000);
  const after = await poolView(second);
  t.deepEqual(after.guests.map((g: any) => `${g.id}:${g.state}`).sort(), ids.map((id) => `${id}:healthy`));
  t.deepEqual(second.logs.filter((l) => l.event === 'guest' && l.action === 'clone'), []);
  t.deepEqual(second.logs.filter((l) => l.event === 'scale' && l.outcome === 'started'), []);
  for (const r of records) t.true(processAlive(r.pid, r.startTime));
  const r = await request(`http://127.0.0.1:${lbPort}/`);
  t.is(r.status, 200);
  t.regex(r.body, new RegExp(`^(${ids.join('|')}) worked \\d+ ms\\n$`));
});
