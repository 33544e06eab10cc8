// /api/hosts through the real API, orchestrator and pool loop (fake hypervisor placing on
// "localhost"): the hosts' view, drain / undrain behind the token, and the refusals a client
// gets for a bad or unknown host.
import test from 'ava';
import { rig, TOKEN, WRONG } from './rig.ts';

const post = (token: string | undefined, body: unknown = {}) => ({
  method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body),
});

test('GET /api/hosts lists every host a driver places on with its state and guests', async (t) => {
  const r = await rig(t, TOKEN);
  await r.clock.advance(1000);
  await r.orchestrator.loop('web')!.idle();
  const res = await r.call('/api/hosts');
  t.is(res.status, 200);
  t.is(res.body.hosts.length, 1);
  const [h] = res.body.hosts;
  t.like(h, { host: 'fakehost', driver: 'local', state: 'open' });
  t.true(h.guests.length >= 2 && h.guests.every((g: any) => g.pool === 'web' || g.pool === 'old'), JSON.stringify(h.guests));
});

test('POST /api/hosts/:host/drain needs the token, closes the host (draining while guests are on it) and says who asked; undrain opens it', async (t) => {
  const r = await rig(t, TOKEN);
  t.is((await r.call('/api/hosts/fakehost/drain', post(undefined))).status, 401);
  t.is((await r.call('/api/hosts/fakehost/drain', post(WRONG))).status, 401);
  t.is((await r.call('/api/hosts/fakehost')).body.state, 'open', 'a refused write changed nothing');
  const d = await r.call('/api/hosts/fakehost/drain', post(TOKEN, { reason: 'firmware', by: 'alice@ops' }));
  t.is(d.status, 200);
  t.true(d.body.changed);
  t.like(d.body.host, { host: 'fakehost', state: 'draining', drain: { by: 'alice@ops', reason: 'firmware' } });
  t.regex(d.body.host.drain.at, /^\d{4}-\d\d-\d\dT/);
  t.false((await r.call('/api/hosts/fakehost/drain', post(TOKEN))).body.changed, 'a second drain changes nothing');
  t.regex(r.logText(), /host fakehost drained by alice@ops/);
  const u = await r.call('/api/hosts/fakehost/undrain', post(TOKEN, { by: 'alice@ops' }));
  t.true(u.body.changed);
  t.is(u.body.host.state, 'open');
  t.false('drain' in u.body.host);
});

test('an unknown host is 404 GH_HOST_UNKNOWN naming the known ones; a malformed one is 400; other fields are refused', async (t) => {
  const r = await rig(t, TOKEN);
  const unknown = await r.call('/api/hosts/dom0-z/drain', post(TOKEN));
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'GH_HOST_UNKNOWN');
  t.regex(unknown.body.error.message, /known: fakehost/);
  t.is((await r.call('/api/hosts/dom0-z')).status, 404);
  const bad = await r.call('/api/hosts/..%2Fetc/drain', post(TOKEN));
  t.is(bad.status, 400);
  const extra = await r.call('/api/hosts/fakehost/drain', post(TOKEN, { force: true }));
  t.is(extra.status, 400);
  t.is((await r.call('/api/hosts/fakehost')).body.state, 'open');
  t.is((await r.call('/api/hosts', { method: 'DELETE' })).status, 405);
});
