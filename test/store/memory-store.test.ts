import test from 'ava';
import { GridhostError } from '../../src/errors/errors.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { guest, runStoreContract } from './store-contract.ts';

runStoreContract('memory', async () => new MemoryStore());

test('failNext makes the next call of that method reject with GH_STORE_FAILED and change nothing', async (t) => {
  const s = new MemoryStore();
  s.failNext('saveGuest');
  const e = await t.throwsAsync(s.saveGuest(guest('web-1')));
  t.true(e instanceof GridhostError);
  t.is((e as GridhostError).code, 'GH_STORE_FAILED');
  t.is(await s.getGuest('web-1'), undefined);
  await s.saveGuest(guest('web-1'));
  t.is((await s.getGuest('web-1'))?.id, 'web-1');
});

test('failNext only affects the named method and queues one failure per call', async (t) => {
  const s = new MemoryStore();
  const custom = new GridhostError('GH_STORE_FAILED', 'disk full');
  s.failNext('listGuests', custom);
  s.failNext('listGuests');
  await t.notThrowsAsync(s.listPools());
  t.is(await t.throwsAsync(s.listGuests()), custom);
  await t.throwsAsync(s.listGuests());
  await t.notThrowsAsync(s.listGuests());
});

test('calls records each method and its arguments in order', async (t) => {
  const s = new MemoryStore();
  await s.saveGuest(guest('web-1'));
  await s.listGuests({ pool: 'web' });
  t.deepEqual(
    s.calls.map((c) => c.method),
    ['saveGuest', 'listGuests'],
  );
  t.deepEqual(s.calls[1]!.args, [{ pool: 'web' }]);
});
