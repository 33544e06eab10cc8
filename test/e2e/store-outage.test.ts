// Store outage (issue 10): while the SQLite store cannot be written (its files made immutable,
// which even root cannot write through), gridhost does not act: a guest that dies is not
// replaced; /healthz answers 503 degraded with the reason while /metrics keeps serving
// (gridhost_store_up 0); once the files are writable again it resumes by itself and repairs.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, getJson, guestRecords, killProcessesUnder, request, sleep, startGridhost, waitUntil, type GridhostProcess } from './harness.ts';
import { idlePoolPolicy } from './idle-pool-policy.ts';

const run = promisify(execFile);
const POOL = 'so';

test('while the SQLite store cannot be written nothing acts, /healthz is degraded with the reason, /metrics serves; it resumes by itself', async (t) => {
  const lb = await freePort();
  let gh: GridhostProcess | undefined;
  const files: string[] = [];
  t.teardown(async () => {
    for (const f of files) await run('chattr', ['-i', f]).catch(() => undefined);
    await gh?.stop('SIGKILL');
    if (gh) killProcessesUnder(gh.dir);
    gh?.cleanup();
  });
  gh = await startGridhost({ policies: { [`${POOL}.yaml`]: idlePoolPolicy({ pool: POOL, lbPort: lb, max: 4 }) } });
  const healthy = async () => ((await getJson(`${gh!.api}/api/pools/${POOL}`)).json.counts?.healthy ?? 0) as number;
  await waitUntil(async () => (await healthy()) === 2, 60_000, '2 healthy guests');

  // The outage: the database and its WAL become immutable.
  const db = join(gh.dir, 'data', 'gridhost.db');
  for (const f of [db, `${db}-wal`]) if (existsSync(f)) files.push(f);
  for (const f of files) await run('chattr', ['+i', f]);
  const degraded = await waitUntil(async () => {
    const h = await getJson(`${gh!.api}/healthz`);
    return h.status === 503 ? h.json : undefined;
  }, 20_000, '/healthz degraded');
  t.is(degraded.status, 'degraded');
  t.regex(String(degraded.reason), /store unavailable since .*: .*sqlite/);
  const metrics = await request(`${gh.api}/metrics`);
  t.is(metrics.status, 200);
  t.regex(metrics.body, /^gridhost_store_up 0$/m);
  t.true(gh.logs.some((l) => l.event === 'store' && l.level === 'error'), 'the outage is logged');

  // A guest dies during the outage: nothing is launched for it while the store is down.
  const victim = guestRecords(gh.dir, POOL)[0]!;
  process.kill(-victim.pid, 'SIGKILL');
  const clonesBefore = gh.logs.filter((l) => l.event === 'guest' && l.action === 'clone').length;
  await sleep(8000);
  t.is(gh.logs.filter((l) => l.event === 'guest' && l.action === 'clone').length, clonesBefore, 'no launch while the store cannot be written');
  t.is((await getJson(`${gh.api}/healthz`)).status, 503);

  // The store comes back: gridhost resumes by itself, repairs the dead guest's record and
  // brings the pool back to 2.
  for (const f of files) await run('chattr', ['-i', f]);
  files.length = 0;
  await waitUntil(async () => (await getJson(`${gh!.api}/healthz`)).status === 200, 30_000, '/healthz ok again');
  t.regex((await request(`${gh.api}/metrics`)).body, /^gridhost_store_up 1$/m);
  await waitUntil(async () => (await healthy()) === 2 && gh!.logs.filter((l) => l.event === 'guest' && l.action === 'clone').length > clonesBefore, 60_000, 'a replacement launched and healthy');
  const repaired = gh.logs.filter((l) => l.event === 'repair' && l.guest === victim.id).map((l) => l.kind);
  t.deepEqual(repaired, ['record-gone'], `the dead guest's record is repaired: ${repaired.join(',')}`);
});
