// Retiring a pool whose policy was removed, on a real gridhost with real guests behind the
// builtin balancer: a request in flight through the front end finishes (the guests are drained
// like scale-in victims, though stop_timeout is far shorter than the request), 20 concurrent
// retires are joined into one (one set of retire lines, the same answer for each), and the
// pool's record says what happened.
import test from 'ava';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, getJson, guestRecords, killProcessesUnder, processAlive, request, startGridhost, waitUntil } from './harness.ts';

const TOKEN = 'e2e-retire-token-5d2e';

const policy = (lbPort: number) => `pool: old
min: 2
max: 2
guest:
  driver: local
  template: web.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 1s
  drain_timeout: 30s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 30s
rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 1000
    for: 2
    step: +1
`;

test('a retire drains before stopping (a request in flight finishes), concurrent retires are joined, and the pool says it was retired', async (t) => {
  t.timeout(120_000);
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'old.yaml': policy(lbPort) }, env: { GRIDHOST_API_TOKEN: TOKEN } });
  t.teardown(() => {
    if (!t.passed) t.log(gh.logs.filter((l) => l.pool === 'old').map((l) => JSON.stringify(l)).join('\n'));
  });
  t.teardown(async () => {
    await gh.stop();
    killProcessesUnder(gh.dir);
    gh.cleanup();
  });
  const front = `http://127.0.0.1:${lbPort}`;
  const view = () => getJson(`${gh.api}/api/pools/old`).then((r) => r.json);
  await waitUntil(async () => (await view()).backends?.filter((b: any) => b.healthy).length === 2, 40_000, 'two healthy guests');
  const records = guestRecords(gh.dir, 'old');
  const ids = records.map((r) => r.id).sort();
  t.is(ids.length, 2);

  rmSync(join(gh.dir, 'policies', 'old.yaml'));
  await waitUntil(async () => (await view()).status === 'unmanaged', 15_000, 'pool unmanaged');

  // A request that takes 3 s (three times the stop timeout) is in flight when the retire comes.
  const slow = request(`${front}/?ms=3000`, { timeoutMs: 30_000 });
  await waitUntil(async () => (await view()).backends.some((b: any) => b.active > 0), 10_000, 'the slow request in flight');
  const auth = { authorization: `Bearer ${TOKEN}` };
  const answers = await Promise.all(Array.from({ length: 20 }, () => request(`${gh.api}/api/pools/old/retire`, { method: 'POST', headers: auth, timeoutMs: 60_000 })));
  const done = await slow;
  t.is(done.status, 200, `the request in flight failed: ${done.status} ${done.body}`);
  t.regex(done.body, /worked 3000 ms/);
  for (const a of answers) {
    t.is(a.status, 200, a.body);
    const body = JSON.parse(a.body);
    t.deepEqual({ ...body, retired: [...body.retired].sort() }, { pool: 'old', retired: ids, failed: [] });
    t.is(a.body, answers[0]!.body, 'every caller gets the same answer');
  }

  for (const id of ids) {
    const moves = gh.logs.filter((l) => l.event === 'guest' && l.guest === id && l.from !== undefined).map((l) => `${l.action} ${l.from} -> ${l.to}`);
    t.deepEqual(moves.slice(-3), ['retire healthy -> draining', 'drain draining -> stopping', 'retired stopping -> gone'], `${id}: ${moves.join(', ')}`);
    t.is(moves.filter((m) => m.endsWith('-> gone')).length, 1, `${id} retired once`);
  }
  for (const r of records) {
    t.false(processAlive(r.pid, r.startTime), `guest ${r.id} still running`);
    t.false(existsSync(r.clonePath), `clone of ${r.id} left behind`);
  }
  const after = await view();
  t.like(after, { status: 'retired', desired: 0, guests: [] });
  t.regex(after.retiredAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.like(after.lastEvent, { direction: 'scale-in', from: 2, to: 0, outcome: 'done' });
  t.deepEqual(String(after.lastEvent.detail).replace(/^retired /, '').split(', ').sort(), ids);
  const summary = (await getJson(`${gh.api}/api/pools`)).json.pools.find((p: any) => p.pool === 'old');
  t.like(summary, { status: 'retired', size: 0, desired: 0 });
  t.is(gh.logs.filter((l) => l.event === 'scale' && l.pool === 'old' && l.to === 0 && l.outcome === 'done').length, 1);
});
