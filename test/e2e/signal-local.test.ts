// Alert webhooks on a real gridhost with real local guests: an Alertmanager webhook payload
// (version 4, as Alertmanager sends it) asks for a strategy: signal rule's step; delivered
// twice, and again after gridhost restarts on the same store, it scales the pool exactly once;
// with two processes on one store, the one that does not lead the pool accepts it, the leader
// serves it, and after the leader is killed the new one does not serve it again.
import test from 'ava';
import { freePort, getJson, gridhostsOf, holderOf, request, startGridhost, waitUntil, workspace, type GridhostProcess } from './harness.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'sig';
const SECRET = 'e2e-webhook-secret-93ad1f0c';
const TOKEN = 'e2e-api-token-5c1e7b2a9d';

function policy(lbPort: number): string {
  return `
pool: ${POOL}
min: 2
max: 5
guest:
  driver: local
  template: sig.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 5s
  drain_timeout: 5s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 30s
warmup: 0s
scale_out:
  cooldown: 1s
scale_in:
  cooldown: 60s
  stabilization: 60s
webhook:
  secret_env: GRIDHOST_WEBHOOK_SIG
rules:
  - name: burst
    strategy: signal
    step: +1
    cooldown: 1s
    expires: 10m
`;
}

const TEMPLATE = webTemplate(1);

/** What Alertmanager POSTs to a webhook receiver for one firing alert. */
const PAYLOAD = JSON.stringify({
  version: '4',
  groupKey: '{}/{gridhost_rule="burst"}:{alertname="HighLatency"}',
  truncatedAlerts: 0,
  status: 'firing',
  receiver: 'gridhost-sig',
  groupLabels: { alertname: 'HighLatency' },
  commonLabels: { alertname: 'HighLatency', gridhost_rule: 'burst', pool: POOL, severity: 'page' },
  commonAnnotations: { summary: 'p95 latency over 500ms' },
  externalURL: 'http://alertmanager.example:9093',
  alerts: [{
    status: 'firing',
    labels: { alertname: 'HighLatency', gridhost_rule: 'burst', pool: POOL, severity: 'page' },
    annotations: { summary: 'p95 latency over 500ms' },
    startsAt: '2026-12-01T21:00:00.000Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example:9090/graph?g0.expr=...',
    fingerprint: '4f1c2a9e8d7b6c50',
  }],
});

const deliver = (gh: GridhostProcess) => request(`${gh.api}/api/pools/${POOL}/signal`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` }, body: PAYLOAD });
const healthy = async (gh: GridhostProcess) => ((await getJson(`${gh.api}/api/pools/${POOL}`)).json.guests as { state: string }[]).filter((g) => g.state === 'healthy').length;
const scaleOuts = async (gh: GridhostProcess) => ((await getJson(`${gh.api}/api/events?pool=${POOL}`)).json.events as { direction: string; from: number; to: number; outcome: string; reason: string }[])
  .filter((e) => e.direction === 'scale-out' && e.outcome === 'done' && e.from >= 2);

/** Several sampling ticks (500 ms each) past every cooldown (1 s). */
const ticks = () => new Promise((r) => setTimeout(r, 4000));

test('an Alertmanager payload delivered twice, and again after a restart, scales the pool exactly once', async (t) => {
  t.timeout(180_000);
  const lbPort = await freePort();
  const opts = { policies: { 'sig.yaml': policy(lbPort) }, templates: { 'sig.local.yaml': TEMPLATE }, env: { GRIDHOST_WEBHOOK_SIG: SECRET, GRIDHOST_API_TOKEN: TOKEN } };
  let gh = await startGridhost(opts);
  const dir = gh.dir;
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  await waitUntil(async () => (await healthy(gh)) === 2, 60_000, 'two healthy guests');

  const first = await deliver(gh);
  t.is(first.status, 202, first.body);
  t.like(JSON.parse(first.body), { pool: POOL, form: 'alertmanager', pending: 1 });
  const [grown] = await waitUntil(async () => { const s = await scaleOuts(gh); return s.length > 0 && s; }, 30_000, 'the signal\'s scale-out');
  t.like(grown, { from: 2, to: 3 });
  t.regex(grown!.reason, /^scale-out 2 -> 3: signal burst \+1: alert HighLatency \(fingerprint 4f1c2a9e8d7b6c50, firing since 2026-12-01T21:00:00.000Z\)/);
  await waitUntil(async () => (await healthy(gh)) === 3, 30_000, 'three healthy guests');

  const second = await deliver(gh);
  t.is(second.status, 200, second.body);
  t.like(JSON.parse(second.body), { accepted: [], duplicates: [{ key: 'alert:4f1c2a9e8d7b6c50:2026-12-01T21:00:00.000Z', state: 'served' }] });
  await ticks();
  t.is(await healthy(gh), 3, 'the duplicate did not act');

  // A clean restart on the same data directory: the new process knows the alert from the store.
  t.is(await gh.stop(), 0);
  const firstLogs = gh.logs;
  t.true(firstLogs.some((l) => l.msg === 'signal accepted' && l.pool === POOL), 'the accepted signal was logged');
  gh = await startGridhost({ ...opts, dir });
  await waitUntil(async () => (await healthy(gh)) === 3, 60_000, 'the three guests adopted after the restart');
  const third = await deliver(gh);
  t.is(third.status, 200, third.body);
  t.like(JSON.parse(third.body), { accepted: [], duplicates: [{ state: 'served' }], pending: 0 });
  await ticks();
  t.is(await healthy(gh), 3, 'the redelivery after the restart did not act');
  t.is((await scaleOuts(gh)).length, 1, 'one scale-out for the alert, across both processes');
  const signals = (await getJson(`${gh.api}/api/pools/${POOL}/signals`)).json.signals as { state: string }[];
  t.deepEqual(signals.map((s) => s.state), ['served']);
  // Served from the balancer's front end by the grown pool; no credential in the log.
  t.is((await request(`http://127.0.0.1:${lbPort}/`)).status, 200);
  t.false(gh.logs.some((l) => l.msg === 'signal accepted'), 'the second process accepted nothing');
  for (const l of [...firstLogs, ...gh.logs]) t.false(JSON.stringify(l).includes(SECRET) || JSON.stringify(l).includes(TOKEN), 'a credential reached the log');
});

test('a process that does not lead the pool accepts the signal, the leader serves it, and a new leader after a kill does not serve it again', async (t) => {
  t.timeout(180_000);
  const policies = { 'sig.yaml': policy(await freePort()) };
  const templates = { 'sig.local.yaml': TEMPLATE };
  const dir = workspace({ policies, templates });
  const env = { GRIDHOST_WEBHOOK_SIG: SECRET, GRIDHOST_API_TOKEN: TOKEN, GRIDHOST_LEASE: '4000ms' };
  const { start, started: procs } = gridhostsOf(t, dir);
  for (let i = 0; i < 2; i++) await start({ dir, policies, templates, env });
  const leaderHolder = await waitUntil(async () => {
    const views = await Promise.all(procs.map(async (p) => ((await getJson(`${p.api}/api/pools`)).json.pools as any[]).find((x) => x.pool === POOL)));
    const hs = views.map((v) => (v?.leader?.valid && (v.guests.healthy ?? 0) >= 2 ? v.leader.holder as string : undefined));
    return hs[0] && hs[0] === hs[1] && procs.some((p) => holderOf(p) === hs[0]) ? hs[0] : undefined;
  }, 60_000, 'one leader seen by both processes, two healthy guests', 200);
  const leader = procs.find((p) => holderOf(p) === leaderHolder)!;
  const other = procs.find((p) => p !== leader)!;

  const accepted = await deliver(other);
  t.is(accepted.status, 202, accepted.body);
  const [grown] = await waitUntil(async () => { const s = await scaleOuts(leader); return s.length > 0 && s; }, 30_000, 'the leader\'s scale-out for the signal');
  t.like(grown, { from: 2, to: 3 });
  await waitUntil(async () => (await healthy(leader)) === 3, 30_000, 'three healthy guests');

  // The leader dies; the other process takes the pool over once its lease (4 s) runs out.
  await leader.stop('SIGKILL');
  await waitUntil(async () => {
    const v = ((await getJson(`${other.api}/api/pools`)).json.pools as any[]).find((x) => x.pool === POOL);
    return v?.leader?.valid && v.leader.holder === holderOf(other) && (v.guests.healthy ?? 0) === 3;
  }, 60_000, 'the other process leading the pool, three healthy guests', 200);
  const again = await deliver(other);
  t.is(again.status, 200, again.body);
  t.like(JSON.parse(again.body), { accepted: [], duplicates: [{ state: 'served' }] });
  await ticks();
  t.is(await healthy(other), 3, 'the new leader did not serve the signal again');
  t.is((await scaleOuts(other)).length, 1);
});
