// Issue 16 item 1: a second plain `gridhost run` on the same data directory, started while the
// first is booting guests, must not repair (undo) what the first is driving. It joins the store
// as another member (leases, issue 10): the guests the first was booting come up, none is
// stopped, failed or counted against the breaker, exactly one process leads the pool, and the
// guest processes are the ones the first started.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, getJson, gridhostsOf, guestRecords, processAlive, REPO, waitUntil } from './harness.ts';

// Guests that take 12 s to answer their health check, so the second start lands mid-boot.
const SLOW_TEMPLATE = readFileSync(join(REPO, 'templates', 'web.local.yaml'), 'utf8')
  .replace('command: node', 'command: sh')
  .replace('args: ["server.mjs"]', 'args: ["-c", "sleep 12; exec node server.mjs"]');

const policy = (front: number) => `pool: web
min: 2
max: 2
guest:
  driver: local
  template: slow.local.yaml
  image: images/web
  boot_timeout: 45s
  stop_timeout: 2s
balancer:
  listen: 127.0.0.1:${front}
sampling:
  interval: 500ms
  window: 30s
rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 100000
    for: 2
    step: +1
`;

const broke = (l: Record<string, unknown>) =>
  (l.event === 'guest' && (l.to === 'failed' || l.to === 'stopping')) || String(l.msg).startsWith('guest launch failed') || l.event === 'breaker';

test('a second gridhost run on the same data dir, started while the first boots guests, undoes nothing of the first\'s', async (t) => {
  t.timeout(150_000);
  const front = await freePort();
  const opts = { policies: { 'web.yaml': policy(front) }, templates: { 'slow.local.yaml': SLOW_TEMPLATE } };
  const { start, started: procs } = gridhostsOf(t);
  const first = await start(opts);
  t.teardown(() => {
    if (!t.passed) for (const p of procs) t.log(p.logs.filter((l) => l.pool === 'web' || l.level === 'error').map((l) => JSON.stringify(l)).join('\n'));
  });
  // Both guests spawned (booting), neither healthy yet: start the second now.
  await waitUntil(() => guestRecords(first.dir, 'web').length === 2, 20_000, 'two guests booting');
  t.false(first.logs.some((l) => l.event === 'guest' && l.to === 'healthy'), 'the second must start while the guests boot');
  const booting = guestRecords(first.dir, 'web');

  const second = await start({ ...opts, dir: first.dir });
  t.not(second.apiPort, first.apiPort);

  // The guests the first was booting come up, and stay the same processes.
  await waitUntil(async () => (await getJson(`${second.api}/api/pools/web`)).json.counts?.healthy === 2, 60_000, 'two healthy guests');
  // Long enough for a lease round or two and any handover between the two processes.
  await new Promise((r) => setTimeout(r, 6000));
  for (const p of procs) t.deepEqual(p.logs.filter(broke), [], 'a guest was undone, failed, or the breaker counted it');
  const after = guestRecords(first.dir, 'web');
  t.deepEqual(after.map((r) => r.id).sort(), booting.map((r) => r.id).sort(), 'the same two guests, no replacement launched');
  for (const r of after) t.true(processAlive(r.pid, r.startTime), `guest ${r.id} still runs`);
  const views = await Promise.all(procs.map(async (p) => (await getJson(`${p.api}/api/pools/web`)).json));
  for (const v of views) t.like(v, { counts: { healthy: 2 }, breaker: { consecutiveFailures: 0 } });
  t.is(views.filter((v) => v.leader?.here === true).length, 1, 'exactly one process leads the pool');
  t.is(views[0].leader?.holder, views[1].leader?.holder, 'both name the same leader');
});
