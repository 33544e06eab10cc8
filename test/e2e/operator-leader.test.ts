// Two real gridhost processes on one SQLite data dir (issue 11): the one that does not lead the
// pool answers every operator write with 421 GH_NOT_LEADER naming the leader's holder id and API
// URL (kept in the lease record), `gridhost scale` through it exits 1 and prints where to go,
// and the same request sent to that URL is carried out.
import test from 'ava';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite-driver.ts';
import { freePort, getJson, gridhostsOf, holderOf, request, runCli, waitUntil, workspace } from './harness.ts';

const TOKEN = 'operator-leader-test-token-0123456789';
const POOL = 'led';

function policy(lbPort: number): string {
  return `pool: ${POOL}
min: 1
max: 3
guest:
  driver: local
  template: web.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 2s
  drain_timeout: 1s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 10s
rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 100000
    for: 2
    step: +1
`;
}

const post = (url: string, body: Record<string, unknown> = {}) =>
  request(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('a process that does not lead the pool sends operators to its leader: 421 GH_NOT_LEADER with the leader\'s API URL, and the CLI says where', async (t) => {
  t.timeout(180_000);
  const policies = { [`${POOL}.yaml`]: policy(await freePort()) };
  const dir = workspace({ policies });
  const env = { GRIDHOST_LEASE: '4000ms', GRIDHOST_API_TOKEN: TOKEN };
  const { start, started: procs } = gridhostsOf(t, dir);
  for (let i = 0; i < 2; i++) await start({ dir, policies, env });
  // Both see the same valid leader, the pool serves.
  // The first process takes the pool before the second announces itself; pools are then spread
  // over both, so the pool may be handed over once. Wait until one leader has held it for two
  // lease periods in a row: this test is about where writes go while a process leads.
  let since = 0;
  let seen: string | undefined;
  const leaderHolder = await waitUntil(async () => {
    const views = await Promise.all(procs.map(async (p) => ((await getJson(`${p.api}/api/pools`)).json.pools as any[]).find((x) => x.pool === POOL)));
    const hs = views.map((v) => (v?.leader?.valid && (v.guests.healthy ?? 0) >= 1 ? v.leader.holder as string : undefined));
    const h = hs[0] && hs[0] === hs[1] && procs.some((p) => holderOf(p) === hs[0]) ? hs[0] : undefined;
    if (h !== seen) [seen, since] = [h, Date.now()];
    return h !== undefined && Date.now() - since >= 8000 ? h : undefined;
  }, 90_000, 'one leader seen by both processes for 8 s, the pool serving', 200);
  const leader = procs.find((p) => holderOf(p) === leaderHolder)!;
  const other = procs.find((p) => p !== leader)!;

  // The lease record carries the leader's API URL.
  const store = openSqliteStore(join(dir, 'data', 'gridhost.db'));
  try {
    const lease = await store.getLease(POOL);
    t.is(lease?.holder, leaderHolder);
    t.is(lease?.api, leader.api);
  } finally {
    await store.close();
  }

  // Every write on the other process: 421, its code, and where the leader is.
  const guest = ((await getJson(`${leader.api}/api/pools/${POOL}`)).json.guests as any[]).find((g) => g.state === 'healthy').id as string;
  for (const [path, body] of [['scale', { desired: 2 }], ['pause', {}], ['resume', {}], ['breaker/reset', {}], ['rollout', {}], [`guests/${guest}/retire`, {}]] as const) {
    const r = await post(`${other.api}/api/pools/${POOL}/${path}`, body);
    t.is(r.status, 421, `${path}: ${r.body}`);
    const err = JSON.parse(r.body).error;
    t.is(err.code, 'GH_NOT_LEADER', path);
    t.deepEqual(err.details.leader.api, leader.api, path);
    t.is(err.details.leader.holder, leaderHolder, path);
    t.regex(err.message, new RegExp(`led by gridhost process ${leaderHolder.replace(/[/.]/g, '\\$&')} at ${leader.api.replace(/[/.]/g, '\\$&')}`));
  }
  t.is(((await getJson(`${leader.api}/api/pools/${POOL}`)).json.guests as any[]).filter((g) => g.state === 'healthy').length, 1, 'nothing was done through the process that does not lead');

  // The CLI through the other process: exit 1, the leader named, the command to run there.
  const cli = await runCli(['scale', POOL, '2'], { cwd: dir, env: { GRIDHOST_URL: other.api, GRIDHOST_API_TOKEN: TOKEN, GRIDHOST_ACTOR: 'tester@ci' } });
  t.is(cli.code, 1, cli.stderr);
  t.regex(cli.stderr, /GH_NOT_LEADER: pool led is led by gridhost process .* at http:\/\/127\.0\.0\.1:\d+: send the request there/);
  t.true(cli.stderr.includes(`run it there: gridhost scale --url ${leader.api} ${POOL} 2`), cli.stderr);
  t.false(cli.stderr.includes(TOKEN), 'the token is never printed');

  // Sent where it says, it is carried out.
  const there = await runCli(['scale', '--url', leader.api, POOL, '2'], { cwd: dir, env: { GRIDHOST_API_TOKEN: TOKEN, GRIDHOST_ACTOR: 'tester@ci' } });
  t.is(there.code, 0, there.stderr);
  await waitUntil(async () => ((await getJson(`${leader.api}/api/pools/${POOL}`)).json.guests as any[]).filter((g) => g.state === 'healthy').length === 2, 30_000, 'the pool at 2 by hand');
});
