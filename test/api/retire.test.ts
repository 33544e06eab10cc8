// POST /api/pools/:pool/retire over real HTTP (test/api/rig.ts): a retire drains every guest
// like a scale-in before stopping it, the pool's record and events say what happened, and
// concurrent retires of one pool are joined (one set of steps, one answer for every caller).
import test from 'ava';
import type { Guest } from '../../src/domain/types.ts';
import { NOW } from '../../src/decision/test-helpers.ts';
import { TOKEN, rig, type Rig } from './rig.ts';

const auth = { authorization: `Bearer ${TOKEN}` };

/** The rig's clock only moves when told: move it (drain polls sleep on it) until `p` settles. */
async function whileAdvancing<T>(r: Rig, p: Promise<T>): Promise<T> {
  let done = false;
  const settled = p.finally(() => (done = true));
  while (!done) {
    await r.clock.advance(10);
    await new Promise((res) => setTimeout(res, 1));
  }
  return settled;
}

async function addOldGuest(r: Rig, id: string): Promise<void> {
  const g: Guest = { id, pool: 'old', state: 'healthy', driver: 'local', host: 'localhost', address: `127.0.0.1:${19990 + Number(id.slice(-1))}`, createdAt: NOW - 40_000, healthyAt: NOW - 30_000, updatedAt: NOW - 30_000, meta: {} };
  r.hv.seed({ id, pool: 'old', running: true, address: g.address, meta: {} });
  await r.store.saveGuest(g);
  await r.balancer.add('old', id, g.address!);
}

test('a retire drains each guest like a scale-in (requests in flight finish) before it is deregistered and stopped', async (t) => {
  const r = await rig(t, TOKEN);
  // Two requests in flight on old-1: the drain waits until the balancer reports none.
  r.balancer.scriptActive('old', 'old-1', [2, 2, 1, 0]);
  const res = await whileAdvancing(r, r.call('/api/pools/old/retire', { method: 'POST', headers: auth }));
  t.is(res.status, 200, res.text);
  t.deepEqual(res.body, { pool: 'old', retired: ['old-1'], failed: [] });

  const calls = r.balancer.calls.filter((c) => c.args[0] === 'old' && c.method !== 'list').map((c) => `${c.method}${c.args[1] ? ` ${c.args[1]}` : ''}`);
  // ensurePool/add come from the rig; then the retire: drain, deregister, close the front end.
  t.deepEqual(calls.slice(2), ['setDrain old-1', 'remove old-1', 'removePool']);
  const lists = r.balancer.calls.filter((c) => c.method === 'list' && c.args[0] === 'old').length;
  t.true(lists >= 4, `the drain polled until nothing was in flight (${lists} polls)`);
  t.deepEqual(r.hv.callsOf('stop'), ['old-1']);
  const steps = r.logLines().filter((l) => l.event === 'guest' && l.guest === 'old-1').map((l) => `${l.from} -> ${l.to}`);
  t.is(steps[0], 'healthy -> draining', `guest lines: ${steps.join(', ')}`);
  t.is(steps[steps.length - 1], 'stopping -> gone', `guest lines: ${steps.join(', ')}`);
});

test('after a retire the pool\'s record says what happened: status retired, desired 0, when, and the retire as a scale event', async (t) => {
  const r = await rig(t, TOKEN);
  await addOldGuest(r, 'old-2');
  const before = Date.parse(new Date(r.clock.now()).toISOString());
  t.is((await r.call('/api/pools/old/retire', { method: 'POST', headers: auth })).status, 200);

  const summary = (await r.call('/api/pools')).body.pools.find((p: any) => p.pool === 'old');
  t.deepEqual(summary, { pool: 'old', status: 'retired', managed: false, retiredAt: new Date(before).toISOString(), file: '/policies/old.yaml', size: 0, serving: false, desired: 0, guests: {},
    mode: 'auto', healthy: 0, rules: [], schedules: [], blockers: [],
  });
  const view = (await r.call('/api/pools/old')).body;
  t.like(view, { pool: 'old', status: 'retired', desired: 0, guests: [], retiredAt: new Date(before).toISOString() });
  t.like(view.lastEvent, { pool: 'old', direction: 'scale-in', from: 2, to: 0, outcome: 'done', detail: 'retired old-1, old-2', at: new Date(before).toISOString() });
  t.regex(view.lastEvent.reason, /^scale-in 2 -> 0: retired by the operator after its policy was removed$/);
  const events = (await r.call('/api/events?pool=old')).body.events;
  t.is(events.length, 1);
  t.like(events[0], { direction: 'scale-in', from: 2, to: 0, outcome: 'done' });
  const scaleLines = r.logLines().filter((l) => l.event === 'scale' && l.pool === 'old');
  t.deepEqual(scaleLines.map((l) => l.outcome), ['started', 'done']);

  // Asking again retires nothing and keeps the first retire's time.
  await r.clock.advance(60_000);
  const again = await r.call('/api/pools/old/retire', { method: 'POST', headers: auth });
  t.deepEqual(again.body, { pool: 'old', retired: [], failed: [] });
  t.is((await r.call('/api/pools/old')).body.retiredAt, new Date(before).toISOString());
  t.is((await r.call('/api/events?pool=old')).body.events.length, 1, 'no second event for an empty retire');
});

test('20 concurrent retires of one pool are joined: one set of steps and retire lines, the same answer for every caller', async (t) => {
  const r = await rig(t, TOKEN);
  await addOldGuest(r, 'old-2');
  // The first stop waits until every request has reached the server.
  const release = r.hv.holdNext('stop');
  let arrived = 0;
  r.server.on('request', (req) => {
    if (req.url === '/api/pools/old/retire' && ++arrived === 20) release();
  });
  const answers = await Promise.all(Array.from({ length: 20 }, () => r.call('/api/pools/old/retire', { method: 'POST', headers: auth })));
  t.is(arrived, 20);
  for (const a of answers) {
    t.is(a.status, 200, a.text);
    t.deepEqual(a.body, { pool: 'old', retired: ['old-1', 'old-2'], failed: [] });
  }
  t.deepEqual(r.hv.callsOf('stop').sort(), ['old-1', 'old-2']);
  t.deepEqual(r.hv.callsOf('deleteClone').sort(), ['old-1', 'old-2']);
  const retiredLines = r.logLines().filter((l) => l.event === 'guest' && l.pool === 'old' && l.to === 'gone');
  t.deepEqual(retiredLines.map((l) => l.guest).sort(), ['old-1', 'old-2']);
  t.is((await r.call('/api/events?pool=old')).body.events.length, 1);
  t.is(r.balancer.calls.filter((c) => c.method === 'removePool').length, 1);
});
