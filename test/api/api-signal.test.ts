// POST /api/pools/:pool/signal over real HTTP (test/api/rig.ts): an Alertmanager webhook
// payload or a plain {"rule"} asks for a strategy: signal rule's step; a redelivery acts once;
// every refusal is a clear JSON 4xx, and neither the token nor a webhook secret reaches the log.
import test from 'ava';
import type { SignalRule } from '../../src/domain/policy.ts';
import { makePolicy, NOW } from '../../src/decision/test-helpers.ts';
import { TOKEN, WRONG, rig, type Rig } from './rig.ts';

const SECRET = 'web-hook-secret-5f3a9c17';
const API_SECRET = 'api-hook-secret-0b9e44d2';
const burst: SignalRule = { name: 'burst', strategy: 'signal', step: { kind: 'count', value: 1 }, cooldownMs: 300_000, expiresMs: 600_000 };
const env = { GRIDHOST_WEBHOOK_WEB: SECRET, GRIDHOST_WEBHOOK_API: API_SECRET, WEAK: 'changeme' };

/** Alertmanager's webhook body (version 4), one firing alert, as Alertmanager sends it. */
function alertmanagerBody(over: Record<string, unknown> = {}, labels: Record<string, string> = { alertname: 'HighLatency', gridhost_rule: 'burst', severity: 'page' }) {
  return {
    version: '4', groupKey: '{}:{alertname="HighLatency"}', truncatedAlerts: 0, status: 'firing', receiver: 'gridhost-web',
    groupLabels: { alertname: 'HighLatency' }, commonLabels: labels, commonAnnotations: { summary: 'p95 over 500ms' }, externalURL: 'http://alertmanager:9093',
    alerts: [{ status: 'firing', labels, annotations: { summary: 'p95 over 500ms' }, startsAt: '2026-01-12T11:58:00Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prometheus:9090/graph', fingerprint: 'b3c4d5e6f7a81920', ...over }],
  };
}

async function signalRig(t: Parameters<typeof rig>[0]): Promise<Rig> {
  return rig(t, TOKEN, { policy: { signalRules: [burst], webhook: { secretEnv: 'GRIDHOST_WEBHOOK_WEB', rememberMs: 24 * 3600_000 } }, env });
}

/** `bearer` null: no Authorization header. */
const post = (r: Rig, pool: string, body: unknown, bearer: string | null = TOKEN) => r.call(`/api/pools/${pool}/signal`, {
  method: 'POST', headers: { 'content-type': 'application/json', ...(bearer !== null ? { authorization: `Bearer ${bearer}` } : {}) }, body: JSON.stringify(body),
});

async function settle(r: Rig): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await r.clock.advance(1000);
    await r.orchestrator.loop('web')!.idle();
  }
}

const counted = async (r: Rig) => (await r.store.listGuests({ pool: 'web', states: ['cloning', 'booting', 'healthy'] })).length;

test('an Alertmanager payload delivered twice scales the pool once, and the second delivery says it was a duplicate', async (t) => {
  const r = await signalRig(t);
  t.is(await counted(r), 4);
  const first = await post(r, 'web', alertmanagerBody());
  t.is(first.status, 202, first.text);
  t.like(first.body, { pool: 'web', form: 'alertmanager', pending: 1, duplicates: [], ignored: [] });
  t.like(first.body.accepted[0], { rule: 'burst', key: 'alert:b3c4d5e6f7a81920:2026-01-12T11:58:00Z', state: 'pending', from: 'alert HighLatency (fingerprint b3c4d5e6f7a81920, firing since 2026-01-12T11:58:00Z)' });
  await settle(r);
  // The rig's own scale-out to min 4 just finished: the pool's cooldown holds the signal, and says so.
  const held = (await r.call('/api/pools/web/decisions?limit=1')).body.decisions[0];
  t.is(held.hold.cause, 'cooldown');
  t.regex(held.decided.reason, /^cooldown: scale-out blocked for another \d+s \(wanted 4 -> 5: signal burst \+1: alert HighLatency/);
  t.is(await counted(r), 4);
  await r.clock.advance(30_000);
  await settle(r);
  t.is(await counted(r), 5);
  const events = (await r.call('/api/events?pool=web')).body.events;
  t.like(events[0], { direction: 'scale-out', from: 4, to: 5, outcome: 'done' });
  t.regex(events[0].reason, /^scale-out 4 -> 5: signal burst \+1: alert HighLatency \(fingerprint b3c4d5e6f7a81920/);

  const again = await post(r, 'web', alertmanagerBody());
  t.is(again.status, 200, again.text);
  t.deepEqual(again.body.accepted, []);
  t.like(again.body.duplicates[0], { key: 'alert:b3c4d5e6f7a81920:2026-01-12T11:58:00Z', state: 'served' });
  await r.clock.advance(400_000); // past every cooldown
  await settle(r);
  t.is(await counted(r), 5, 'the redelivery did not act');
  const listed = (await r.call('/api/pools/web/signals')).body.signals;
  t.is(listed.length, 1);
  t.like(listed[0], { rule: 'burst', state: 'served', at: new Date(NOW + 1010).toISOString() });
  t.true(Date.parse(listed[0].servedAt) > NOW + 30_000);
  t.regex(listed[0].servedBy, /^scale-out 4 -> 5/);
});

test('resolved alerts are ignored and a plain request with a key acts once; the webhook secret authorizes it', async (t) => {
  const r = await signalRig(t);
  const resolved = await post(r, 'web', alertmanagerBody({ status: 'resolved' }), SECRET);
  t.is(resolved.status, 200, resolved.text);
  t.deepEqual(resolved.body.accepted, []);
  t.deepEqual(resolved.body.ignored, [{ alert: 'HighLatency', fingerprint: 'b3c4d5e6f7a81920', status: 'resolved' }]);
  const plain = await post(r, 'web', { rule: 'burst', key: 'deploy-7', by: 'ci@build', reason: 'release' }, SECRET);
  t.is(plain.status, 202, plain.text);
  t.like(plain.body.accepted[0], { key: 'key:deploy-7', from: 'ci@build: release (key deploy-7)' });
  t.is((await post(r, 'web', { rule: 'burst', key: 'deploy-7' }, SECRET)).body.duplicates.length, 1);
  await r.clock.advance(30_000);
  await settle(r);
  t.is(await counted(r), 5);
});

test('the rule comes from the alertname when there is no gridhost_rule label', async (t) => {
  const r = await signalRig(t);
  const res = await post(r, 'web', alertmanagerBody({}, { alertname: 'burst' }));
  t.is(res.status, 202, res.text);
  t.is(res.body.accepted[0].rule, 'burst');
});

const refusals: { title: string; pool?: string; body: unknown; bearer?: string | null; status: number; code: string; message: RegExp }[] = [
  { title: 'no credentials', body: { rule: 'burst' }, bearer: null, status: 401, code: 'GH_UNAUTHORIZED', message: /API token or the pool's webhook secret/ },
  { title: 'a wrong bearer', body: { rule: 'burst' }, bearer: WRONG, status: 401, code: 'GH_UNAUTHORIZED', message: /Bearer/ },
  { title: 'a weak secret in the variable is never accepted', body: { rule: 'burst' }, bearer: 'changeme', status: 401, code: 'GH_UNAUTHORIZED', message: /Bearer/ },
  { title: 'another pool\'s webhook secret', body: { rule: 'burst' }, bearer: API_SECRET, status: 403, code: 'GH_FORBIDDEN', message: /another pool/ },
  { title: 'an unknown rule', body: { rule: 'nope' }, status: 400, code: 'GH_BAD_REQUEST', message: /^rule: pool web has no rule nope \(its signal rules: burst\)/ },
  { title: 'a rule that is not strategy: signal', body: { rule: 'busy' }, status: 400, code: 'GH_BAD_REQUEST', message: /busy of pool web is a threshold rule; only strategy: signal rules take signals/ },
  { title: 'an alert naming an unknown rule', body: alertmanagerBody({}, { alertname: 'DiskFull' }), status: 400, code: 'GH_BAD_REQUEST', message: /^alerts\[0\]\.labels\.alertname: pool web has no rule DiskFull/ },
  { title: 'alerts that are no list', body: { ...alertmanagerBody(), alerts: 'x' }, status: 400, code: 'GH_BAD_REQUEST', message: /^alerts: must be the list/ },
  { title: 'an alert without startsAt', body: alertmanagerBody({ startsAt: undefined }), status: 400, code: 'GH_BAD_REQUEST', message: /^alerts\[0\]\.startsAt/ },
  { title: 'no rule at all', body: {}, status: 400, code: 'GH_BAD_REQUEST', message: /^rule: is required/ },
  { title: 'an unknown field', body: { rule: 'burst', rul: 'x' }, status: 400, code: 'GH_BAD_REQUEST', message: /^rul: unknown field/ },
  { title: 'a bad key', body: { rule: 'burst', key: '' }, status: 400, code: 'GH_BAD_REQUEST', message: /^key: must be/ },
  { title: 'an unknown pool', pool: 'nosuch', body: { rule: 'burst' }, status: 404, code: 'GH_NOT_FOUND', message: /no pool named nosuch/ },
  { title: 'a pool without policy', pool: 'old', body: { rule: 'burst' }, status: 409, code: 'GH_POOL_UNMANAGED', message: /takes no signals/ },
];

for (const c of refusals) {
  test(`refused with a clear JSON answer, nothing recorded: ${c.title}`, async (t) => {
    const r = await signalRig(t);
    await r.orchestrator.apply(makePolicy({ pool: 'api', file: '/test/api.yaml', balancer: { ...makePolicy().balancer, listen: '127.0.0.1:0' }, signalRules: [burst], webhook: { secretEnv: 'GRIDHOST_WEBHOOK_API', rememberMs: 3600_000 } }));
    const res = await post(r, c.pool ?? 'web', c.body, c.bearer === undefined ? TOKEN : c.bearer);
    t.is(res.status, c.status, res.text);
    t.is(res.body.error.code, c.code);
    t.regex(res.body.error.message, c.message);
    t.is((await r.store.getPool('web'))?.signals, undefined);
  });
}

test('a body that is not JSON, or too large, is a 400; the token and secrets never reach the log', async (t) => {
  const r = await signalRig(t);
  const notJson = await r.call('/api/pools/web/signal', { method: 'POST', headers: { authorization: `Bearer ${SECRET}` }, body: '{"rule":' });
  t.is(notJson.status, 400);
  t.regex(notJson.body.error.message, /^body: is not valid JSON/);
  const huge = await post(r, 'web', { rule: 'burst', reason: 'x'.repeat(1024 * 1024) });
  t.is(huge.status, 400);
  t.regex(huge.body.error.message, /^body: larger than 1048576 bytes/);
  t.is((await post(r, 'web', alertmanagerBody(), SECRET)).status, 202);
  await post(r, 'web', { rule: 'burst' }, WRONG);
  const log = r.logText() + r.seen.join('\n');
  t.regex(r.logText(), /signal accepted/);
  for (const s of [TOKEN, SECRET, WRONG]) t.false(log.includes(s), 'a credential appeared in the log or an answer');
});
