// guest.vertical in GET /api/pools/:pool: the policy's steps, and per guest its vCPUs and memory
// now and at most (the driver's size facts in its record).
import test from 'ava';
import { makePolicy } from '../../src/decision/test-helpers.ts';
import { rig, TOKEN } from './rig.ts';
import { decisionView } from '../../src/api/pool-views.ts';

test('GET /api/pools/:pool shows the policy\'s vertical steps and each guest\'s vCPUs and memory', async (t) => {
  const base = makePolicy({});
  const r = await rig(t, TOKEN, { policy: { guest: { ...base.guest, vertical: { vcpuStep: 1, memoryStepMb: 256 } } } });
  const [g] = await r.store.listGuests({ pool: 'web' });
  await r.store.saveGuest({ ...g!, meta: { ...g!.meta, vcpus: '2', maxvcpus: '4', base_vcpus: '1', memory_mb: '768', maxmem_mb: '1024', base_memory_mb: '512' } });
  const v = (await r.call('/api/pools/web')).body;
  t.deepEqual(v.vertical, { vcpuStep: 1, memoryStepMb: 256 });
  const shown = v.guests.find((x: any) => x.id === g!.id);
  t.deepEqual(shown.size, { vcpus: 2, maxVcpus: 4, memoryMb: 768, maxMemoryMb: 1024 });
  t.true(v.guests.filter((x: any) => x.id !== g!.id).every((x: any) => !('size' in x)), 'guests whose size is not recorded show none');
});

test('a pool without guest.vertical shows none', async (t) => {
  const r = await rig(t, TOKEN);
  t.false('vertical' in (await r.call('/api/pools/web')).body);
});

test('a resize decision shows as direction resize with its step (up/down), its guests and the size kept', (t) => {
  const v = decisionView({ pool: 'web', at: 0, from: 3, to: 3, reason: 'resize up', inputs: { series: {}, min: 2, max: 8, schedules: [] }, action: 'resize', direction: 'up', guests: [{ id: 'web-a', vcpus: { from: 1, to: 2 }, memoryMb: { from: 512, to: 512 } }] });
  t.like(v, { direction: 'resize', step: 'up', from: 3, to: 3 });
  t.is((v as any).guests.length, 1);
});
