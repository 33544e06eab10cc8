// The REST API over real HTTP (test/api/rig.ts): read routes, stable JSON error codes, input
// checks (query parameters, pool names, limits, URL encoding), ISO 8601 times, the write
// route's token, and the token never leaking.
import test from 'ava';
import type { ScaleEvent } from '../../src/domain/types.ts';
import { NOW } from '../../src/decision/test-helpers.ts';
import { TOKEN, WRONG, rig } from './rig.ts';

test('/healthz answers ok with the number of managed pools', async (t) => {
  const r = await rig(t, TOKEN);
  const res = await r.call('/healthz');
  t.is(res.status, 200);
  t.deepEqual(res.body, { status: 'ok', pools: 1 });
});

test('a pool whose clients get 503 makes /healthz degraded naming it, and shows serving: false with the reason', async (t) => {
  const r = await rig(t, TOKEN);
  t.true((await r.call('/api/pools/web')).body.serving);
  for (const b of r.balancer.snapshot('web')) r.balancer.fall('web', b.id, 'HTTP 503');
  const h = await r.call('/healthz');
  t.is(h.status, 200, 'gridhost itself is alive');
  t.is(h.body.status, 'degraded');
  t.is(h.body.degraded.length, 1);
  t.is(h.body.degraded[0].pool, 'web');
  t.regex(h.body.degraded[0].reason, /no healthy backend, clients get 503: .*failed \(HTTP 503\)/);
  const v = (await r.call('/api/pools/web')).body;
  t.false(v.serving);
  t.false(v.failOpen);
  t.regex(v.servingReason, /clients get 503/);
  t.false((await r.call('/api/pools')).body.pools.find((p: any) => p.pool === 'web').serving);
});

test('a pool that fails open serves but /healthz reports it degraded, saying so', async (t) => {
  const r = await rig(t, TOKEN);
  for (const b of r.balancer.snapshot('web')) r.balancer.fall('web', b.id);
  r.balancer.setPoolServing('web', { failOpen: true });
  const h = await r.call('/healthz');
  t.is(h.body.status, 'degraded');
  t.regex(h.body.degraded[0].reason, /^fail-open: 0 of 4/);
  const v = (await r.call('/api/pools/web')).body;
  t.true(v.serving);
  t.true(v.failOpen);
});

test('/metrics is Prometheus text with the pool gauges', async (t) => {
  const r = await rig(t, TOKEN);
  const res = await r.call('/metrics');
  t.is(res.status, 200);
  t.is(res.type, 'text/plain; version=0.0.4; charset=utf-8');
  t.regex(res.text, /^gridhost_guests\{pool="web",state="healthy"\} 4$/m);
  t.regex(res.text, /^gridhost_pool_min_guests\{pool="web"\} 4$/m);
  t.regex(res.text, /^gridhost_pool_max_guests\{pool="web"\} 6$/m);
});

test('/api/pools lists managed and unmanaged pools with their sizes and bounds', async (t) => {
  const r = await rig(t, TOKEN);
  const res = await r.call('/api/pools');
  t.is(res.status, 200);
  t.true(res.type.startsWith('application/json'));
  const [old, web] = res.body.pools;
  t.deepEqual(res.body.pools.map((p: any) => p.pool), ['old', 'web']);
  t.deepEqual(old, {
    pool: 'old', status: 'unmanaged', managed: false, file: '/policies/old.yaml', size: 1, serving: true, desired: 1, guests: { healthy: 1 },
    mode: 'auto', healthy: 1, rules: [], schedules: [], blockers: [],
  });
  t.like(web, { pool: 'web', status: 'managed', managed: true, file: '/test/web.yaml', size: 4, desired: 4, min: 4, max: 6, guests: { healthy: 4 } });
  t.like(web.lastDecision, { direction: 'hold', from: 4, to: 4, at: new Date(NOW + 1000).toISOString() });
});

test('/api/pools/:pool shows guests, samples, last decision, cooldowns, bounds in force, breaker and backends', async (t) => {
  const r = await rig(t, TOKEN);
  const res = await r.call('/api/pools/web');
  t.is(res.status, 200);
  const v = res.body;
  const stored = await r.store.listGuests({ pool: 'web' });
  t.is(stored.length, 4);
  t.deepEqual(v.guests.map((g: any) => [g.id, g.state, g.address, g.driver]), stored.map((g) => [g.id, 'healthy', g.address, 'local']));
  for (const g of v.guests) {
    t.is(g.createdAt, new Date(stored.find((x) => x.id === g.id)!.createdAt).toISOString());
    t.is(g.updatedAt, new Date(stored.find((x) => x.id === g.id)!.updatedAt).toISOString());
  }
  t.deepEqual(v.counts, { cloning: 0, booting: 0, healthy: 4, sick: 0, draining: 0, stopping: 0, gone: 0, failed: 0, warming: 0, warm: 0 });
  t.true(v.managed);
  t.deepEqual(v.bounds, { min: 4, max: 6, schedules: ['campaign'], policyMin: 2, policyMax: 8 });
  t.deepEqual(v.breaker, { mode: 'closed', consecutiveFailures: 0, remainingMs: 0 });
  t.like(v.lastDecision, { pool: 'web', direction: 'hold', from: 4, to: 4, at: new Date(NOW + 1000).toISOString() });
  t.deepEqual(v.loop, { state: 'waiting', acting: false });
  // Cooldowns count from the scale-out recorded for the pool.
  const rec = await r.store.getPool('web');
  const now = r.clock.now();
  t.deepEqual(v.cooldownRemainingMs, { scaleOut: 30_000 - (now - rec!.lastScaleOutAt!), scaleIn: 60_000 - (now - rec!.lastScaleOutAt!) });
  t.true(v.cooldownRemainingMs.scaleOut > 0);
  // Samples: the second tick saw all four guests at rps 5.
  const last = v.samples[v.samples.length - 1];
  t.is(last.at, new Date(NOW + 1000).toISOString());
  t.deepEqual(Object.keys(last.guests).sort(), stored.map((g) => g.id).sort());
  for (const values of Object.values(last.guests)) t.deepEqual(values, { rps: 5 });
  t.deepEqual(v.backends.map((b: any) => [b.id, b.healthy, b.admin]).sort(), stored.map((g) => [g.id, true, 'ready']).sort());

  // An unmanaged pool has no loop: no bounds, breaker or decision, but its guests and backends.
  const old = (await r.call('/api/pools/old')).body;
  t.false(old.managed);
  t.deepEqual(old.guests.map((g: any) => g.id), ['old-1']);
  t.deepEqual(old.backends.map((b: any) => b.id), ['old-1']);
  for (const key of ['bounds', 'breaker', 'lastDecision', 'samples', 'cooldownRemainingMs', 'loop']) t.false(key in old, key);
});

test('an unknown pool is 404 GH_NOT_FOUND on every route that takes a pool, and so is an unknown route', async (t) => {
  const r = await rig(t, TOKEN);
  const auth = { authorization: `Bearer ${TOKEN}` };
  const pool = (name: string) => ({ code: 'GH_NOT_FOUND', message: `no pool named ${name}`, details: { pool: name } });
  const cases: [string, RequestInit | undefined, object][] = [
    ['/api/pools/nope', undefined, pool('nope')],
    ['/api/events?pool=nosuch', undefined, pool('nosuch')],
    ['/api/events?pool=nosuch&limit=5', undefined, pool('nosuch')],
    ['/api/pools/nope/retire', { method: 'POST', headers: auth }, pool('nope')],
    ['/api/nothing', undefined, { code: 'GH_NOT_FOUND', message: 'no route for GET /api/nothing' }],
    ['/api/pools/web/extra', undefined, { code: 'GH_NOT_FOUND', message: 'no route for GET /api/pools/web/extra' }],
  ];
  for (const [path, init, error] of cases) {
    const res = await r.call(path, init);
    t.is(res.status, 404, path);
    t.true(res.type.startsWith('application/json'), path);
    t.deepEqual(res.body, { error }, path);
  }
  // A pool the store knows (its policy removed) is found on every route.
  t.is((await r.call('/api/events?pool=old')).status, 200);
  t.is((await r.call('/api/pools/old')).status, 200);
});

test('a method a route does not answer is 405 GH_METHOD_NOT_ALLOWED with Allow', async (t) => {
  const r = await rig(t, TOKEN);
  const cases: [string, string, string][] = [
    ['/api/pools/web', 'DELETE', 'GET, HEAD'],
    ['/api/pools', 'POST', 'GET, HEAD'],
    ['/api/events', 'PUT', 'GET, HEAD'],
    ['/healthz', 'POST', 'GET, HEAD'],
    ['/api/pools/old/retire', 'GET', 'POST'],
  ];
  for (const [path, method, allow] of cases) {
    const res = await fetch(`${r.base}${path}`, { method });
    t.is(res.status, 405, `${method} ${path}`);
    t.is(res.headers.get('allow'), allow, `${method} ${path}`);
    const body = await res.json() as any;
    t.is(body.error.code, 'GH_METHOD_NOT_ALLOWED');
    t.is(body.error.message, `${method} is not allowed on ${path.replace(/\/(web|old)(?=\/|$)/, '/:pool')}; allowed: ${allow}`);
  }
  const head = await fetch(`${r.base}/api/pools`, { method: 'HEAD' });
  t.is(head.status, 200);
  const options = await fetch(`${r.base}/api/pools/old/retire`, { method: 'OPTIONS' });
  t.is(options.status, 204);
  t.is(options.headers.get('allow'), 'POST');
  t.is((await r.store.getGuest('old-1'))?.state, 'healthy');
});

test('an unknown or repeated query parameter is 400 GH_BAD_REQUEST naming it, on every route', async (t) => {
  const r = await rig(t, TOKEN);
  const auth = { authorization: `Bearer ${TOKEN}` };
  const cases: [string, RequestInit | undefined, string, object][] = [
    ['/api/events?pool=web&limt=5', undefined, 'unknown query parameter "limt" (GET /api/events takes: pool, limit)', { unknown: ['limt'], allowed: ['pool', 'limit'] }],
    ['/api/events?since=1h&x=1', undefined, 'unknown query parameters "since", "x" (GET /api/events takes: pool, limit)', { unknown: ['since', 'x'], allowed: ['pool', 'limit'] }],
    ['/api/pools?pool=web', undefined, 'unknown query parameter "pool" (GET /api/pools takes no query parameters)', { unknown: ['pool'], allowed: [] }],
    ['/api/pools/web?verbose=1', undefined, 'unknown query parameter "verbose" (GET /api/pools/:pool takes no query parameters)', { unknown: ['verbose'], allowed: [] }],
    ['/healthz?probe', undefined, 'unknown query parameter "probe" (GET /healthz takes no query parameters)', { unknown: ['probe'], allowed: [] }],
    ['/metrics?name=x', undefined, 'unknown query parameter "name" (GET /metrics takes no query parameters)', { unknown: ['name'], allowed: [] }],
    ['/api/pools/old/retire?force=1', { method: 'POST', headers: auth }, 'unknown query parameter "force" (POST /api/pools/:pool/retire takes no query parameters)', { unknown: ['force'], allowed: [] }],
    ['/api/events?limit=1&limit=2', undefined, 'query parameter "limit" given more than once', { repeated: ['limit'] }],
    ['/api/events?pool=web&pool=old', undefined, 'query parameter "pool" given more than once', { repeated: ['pool'] }],
  ];
  for (const [path, init, message, details] of cases) {
    const res = await r.call(path, init);
    t.is(res.status, 400, path);
    t.deepEqual(res.body, { error: { code: 'GH_BAD_REQUEST', message, details } }, path);
  }
  t.is((await r.store.getGuest('old-1'))?.state, 'healthy', 'a refused retire retired nothing');
});

test('a URL that is not valid percent-encoding is 400 JSON, logged at debug only', async (t) => {
  const r = await rig(t, TOKEN);
  const paths = ['/api/pools/%zz', '/api/pools/%', '/api/pools/%E0%A4%A', '/api/pools/%ED%A0%80', '/api/pools/%C0%AF', '/api/pools/%zz/retire'];
  for (const path of paths) {
    const res = await r.call(path, path.endsWith('retire') ? { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } } : undefined);
    t.is(res.status, 400, path);
    t.true(res.type.startsWith('application/json'), path);
    t.deepEqual(res.body, { error: { code: 'GH_BAD_REQUEST', message: 'the URL is not valid percent-encoded UTF-8' } }, path);
  }
  const lines = r.logLines().filter((l) => l.msg === 'api request rejected');
  t.is(lines.length, paths.length);
  t.true(lines.every((l) => l.level === 'debug' && l.code === 'GH_BAD_REQUEST' && l.status === 400));
  t.deepEqual(r.logLines().filter((l) => l.level === 'error' || l.level === 'warn'), []);
  t.false(r.logText().includes('stack'));
});

test('bad pool names and limits are 400 JSON with GH_BAD_REQUEST', async (t) => {
  const r = await rig(t, TOKEN);
  const cases: [string, RegExp][] = [
    ['/api/pools/..%2Fx', /^invalid pool name/],
    ['/api/pools/..%2F..%2Fetc', /^invalid pool name/],
    ['/api/pools/a%3Brm', /^invalid pool name/],
    ['/api/pools/Web', /^invalid pool name/],
    [`/api/pools/${'a'.repeat(33)}`, /^invalid pool name/],
    ['/api/events?limit=0', /^limit must be an integer from 1 to 1000$/],
    ['/api/events?limit=abc', /^limit must be an integer from 1 to 1000$/],
    ['/api/events?limit=5000', /^limit must be an integer from 1 to 1000$/],
    ['/api/events?limit=1.5', /^limit must be an integer from 1 to 1000$/],
    ['/api/events?pool=..%2Fx', /^invalid pool name/],
    ['/api/events?pool=', /^invalid pool name/],
    ['/api/events?limit=%2B5', /^limit must be an integer from 1 to 1000$/],
    ['/api/events?limit=1e2', /^limit must be an integer from 1 to 1000$/],
  ];
  for (const [path, message] of cases) {
    const res = await r.call(path);
    t.is(res.status, 400, path);
    t.is(res.body?.error?.code, 'GH_BAD_REQUEST', path);
    t.regex(res.body.error.message, message, path);
  }
});

test('/api/events lists newest first, filtered by pool, at most limit', async (t) => {
  const r = await rig(t, TOKEN);
  const ev = (pool: string, at: number, from: number, to: number): ScaleEvent => ({
    pool, at, direction: to > from ? 'scale-out' : 'scale-in', from, to, reason: `test ${from}->${to}`,
    inputs: { series: {}, min: 1, max: 8, schedules: [] }, outcome: 'done',
  });
  await r.store.appendEvent(ev('old', NOW + 5000, 1, 2));
  await r.store.appendEvent(ev('old', NOW + 6000, 2, 1));
  await r.store.appendEvent(ev('web', NOW + 7000, 4, 5));

  const all = (await r.call('/api/events')).body.events;
  // Times are ISO 8601, as everywhere in the API.
  for (const e of all) t.regex(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const keys = (es: any[]) => es.map((e) => `${e.pool}@${Date.parse(e.at) - NOW}:${e.from}->${e.to}`);
  // The rig's start-up launch of web (0 -> 4) happened at NOW.
  t.deepEqual(keys(all), ['web@7000:4->5', 'old@6000:2->1', 'old@5000:1->2', 'web@0:0->4']);
  t.deepEqual(keys((await r.call('/api/events?pool=old')).body.events), ['old@6000:2->1', 'old@5000:1->2']);
  t.deepEqual(keys((await r.call('/api/events?limit=2')).body.events), ['web@7000:4->5', 'old@6000:2->1']);
  t.deepEqual(keys((await r.call('/api/events?pool=web&limit=1')).body.events), ['web@7000:4->5']);
  await r.store.savePool({ pool: 'quiet', file: '/policies/quiet.yaml', managed: false, desired: 0, updatedAt: NOW });
  t.deepEqual((await r.call('/api/events?pool=quiet')).body, { events: [] }, 'a known pool without events');
  t.is(all[3].outcome, 'done');
});

test('the retire route needs the configured bearer token', async (t) => {
  const r = await rig(t, TOKEN);
  const post = (headers?: Record<string, string>) => r.call('/api/pools/old/retire', { method: 'POST', headers });
  const refused: (Record<string, string> | undefined)[] = [
    undefined,
    { authorization: `Bearer ${WRONG}` },
    { authorization: TOKEN },
    { authorization: `Basic ${TOKEN}` },
    { authorization: `Bearer ${TOKEN}x` },
    { authorization: 'Bearer' },
  ];
  for (const headers of refused) {
    const res = await post(headers);
    t.is(res.status, 401, JSON.stringify(headers));
    t.deepEqual(res.body, { error: { code: 'GH_UNAUTHORIZED', message: 'a valid bearer token is required' } });
  }
  t.deepEqual(r.hv.callsOf('stop'), [], 'a refused request stopped nothing');
  t.is((await r.store.getGuest('old-1'))?.state, 'healthy');

  // A managed pool cannot be retired, even with the token: a conflict with its policy.
  const managed = await r.call('/api/pools/web/retire', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(managed.status, 409);
  t.deepEqual(managed.body.error, { code: 'GH_POOL_MANAGED', message: 'pool web is managed by a policy (/test/web.yaml); remove its policy file first', details: { pool: 'web' } });
  t.deepEqual(r.hv.callsOf('stop'), []);

  const ok = await post({ authorization: `Bearer ${TOKEN}` });
  t.is(ok.status, 200);
  t.deepEqual(ok.body, { pool: 'old', retired: ['old-1'], failed: [] });
  t.deepEqual(r.hv.callsOf('stop'), ['old-1']);
  t.deepEqual(r.hv.callsOf('deleteClone'), ['old-1']);
  t.is((await r.store.getGuest('old-1'))?.state, 'gone');
  t.false(r.balancer.hasPool('old'));

  const unknown = await r.call('/api/pools/nope/retire', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'GH_NOT_FOUND');

  // The token never appears in a response (body or header) or in the log.
  for (const text of [...r.seen, r.logText()]) {
    t.false(text.includes(TOKEN));
    t.false(text.includes(WRONG));
  }
});

test('with no token configured the write route is refused, and says how to enable it', async (t) => {
  const r = await rig(t, undefined);
  for (const headers of [undefined, { authorization: `Bearer ${TOKEN}` }, { authorization: 'Bearer ' }]) {
    const res = await r.call('/api/pools/old/retire', { method: 'POST', headers });
    t.is(res.status, 401);
    t.deepEqual(res.body, { error: { code: 'GH_UNAUTHORIZED', message: 'the write API is disabled: set api.token in gridhost.yaml or GRIDHOST_API_TOKEN' } });
  }
  t.deepEqual(r.hv.callsOf('stop'), []);
  t.is((await r.store.getGuest('old-1'))?.state, 'healthy');
});

test('an internal failure is a 500 JSON error that is logged without the request token', async (t) => {
  const r = await rig(t, TOKEN);
  r.store.failNext('listPools');
  const res = await r.call('/api/pools', { headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(res.status, 500);
  t.is(res.body.error.code, 'GH_STORE_FAILED');
  const log = r.logText();
  t.regex(log, /"msg":"api error".*"code":"GH_STORE_FAILED".*"path":"\/api\/pools"/);
  t.false(r.seen.join('\n').includes(TOKEN));
  t.false(log.includes(TOKEN), 'the token reached the log');
});
