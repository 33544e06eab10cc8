// guest.credit and pinning in GET /api/pools/:pool: the policy's weight and cap, and per guest
// what its driver applied (the Xen driver's meta: scheduler, creditWeight, creditCap, cpus).
import test from 'ava';
import { makePolicy } from '../../src/decision/test-helpers.ts';
import { rig, TOKEN } from './rig.ts';

test('GET /api/pools/:pool shows the policy\'s credit and each guest\'s applied scheduler parameters and pinning', async (t) => {
  const base = makePolicy({});
  const r = await rig(t, TOKEN, { policy: { guest: { ...base.guest, credit: { weight: 512, cap: 50 } } } });
  const [g] = await r.store.listGuests({ pool: 'web' });
  await r.store.saveGuest({ ...g!, meta: { ...g!.meta, scheduler: 'credit2', creditWeight: '512', creditCap: '50', cpus: '0-1' } });
  const v = (await r.call('/api/pools/web')).body;
  t.deepEqual(v.credit, { weight: 512, cap: 50 });
  const shown = v.guests.find((x: any) => x.id === g!.id);
  t.deepEqual(shown.sched, { scheduler: 'credit2', weight: 512, cap: 50, cpus: '0-1' });
  t.true(v.guests.filter((x: any) => x.id !== g!.id).every((x: any) => !('sched' in x)), 'guests with nothing applied show none');
});

test('a pool without guest.credit shows none', async (t) => {
  const r = await rig(t, TOKEN);
  t.false('credit' in (await r.call('/api/pools/web')).body);
});
