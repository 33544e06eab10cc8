import test from 'ava';
import type { Policy } from '../../../src/domain/policy.ts';
import type { Guest } from '../../../src/domain/types.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { FakeHypervisor } from '../../../src/drivers/hypervisor/fake-hypervisor.ts';

const policy = {} as Policy; // the fake never reads it
const spec = (id: string) => ({ id, pool: 'web', policy });
const guest = (id: string, meta: Record<string, string> = {}): Guest => ({ id, pool: 'web', state: 'healthy', driver: 'fake', host: 'fakehost', createdAt: 0, updatedAt: 0, meta });

test('the fake records calls and tracks a guest through its life', async (t) => {
  const hv = new FakeHypervisor();
  const c = await hv.clone(spec('web-1'));
  const b = await hv.boot(spec('web-1'), c.meta);
  t.is(b.address, '127.0.0.1:10001');
  t.deepEqual((await hv.discover()).map((g) => [g.id, g.running]), [['web-1', true]]);
  await hv.stop(guest('web-1'), 1000);
  await hv.deleteClone(guest('web-1'));
  t.deepEqual(await hv.discover(), []);
  t.deepEqual(hv.calls.map(({ method, id }) => ({ method, id })), [
    { method: 'clone', id: 'web-1' },
    { method: 'boot', id: 'web-1' },
    { method: 'discover', id: '' },
    { method: 'stop', id: 'web-1' },
    { method: 'deleteClone', id: 'web-1' },
    { method: 'discover', id: '' },
  ]);
  t.deepEqual(hv.calls.filter((c) => c.guest).map((c) => [c.method, c.guest?.id]), [['stop', 'web-1'], ['deleteClone', 'web-1']], 'stop and deleteClone record the guest they were given');
});

test('failNext fails only the next call of that method', async (t) => {
  const hv = new FakeHypervisor().failNext('boot', new GridhostError('GH_BOOT_FAILED'));
  const c = await hv.clone(spec('web-1'));
  const e = await t.throwsAsync(hv.boot(spec('web-1'), c.meta), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_BOOT_FAILED');
  await t.notThrowsAsync(hv.boot(spec('web-1'), c.meta));
});

test('failWhen fails every matching call until cleared', async (t) => {
  const hv = new FakeHypervisor().failWhen((m, id) => (m === 'clone' && id.endsWith('-2') ? new GridhostError('GH_OUT_OF_CAPACITY') : undefined));
  await t.notThrowsAsync(hv.clone(spec('web-1')));
  for (let i = 0; i < 2; i++) t.is((await t.throwsAsync(hv.clone(spec('web-2'))))?.message, 'no host has capacity for the guest');
  hv.clearFailures();
  await t.notThrowsAsync(hv.clone(spec('web-2')));
});

test('stop and deleteClone are idempotent for unknown guests', async (t) => {
  const hv = new FakeHypervisor();
  await t.notThrowsAsync(hv.stop(guest('nope'), 10));
  await t.notThrowsAsync(hv.deleteClone(guest('nope')));
});

test('holdNext keeps a call pending until released', async (t) => {
  const hv = new FakeHypervisor();
  const release = hv.holdNext('clone');
  let done = false;
  const p = hv.clone(spec('web-1')).then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  t.false(done);
  t.deepEqual(hv.callsOf('clone'), ['web-1'], 'recorded while held');
  release();
  await p;
  t.true(done);
});

test('seeded guests are discovered as left running', async (t) => {
  const hv = new FakeHypervisor({ addressFor: (s) => `10.0.0.9:${s.id.length}` });
  hv.seed({ id: 'web-old', pool: 'web', running: true, address: '10.0.0.5:80', meta: { pid: '7' } });
  t.deepEqual(await hv.discover(), [{ id: 'web-old', pool: 'web', host: 'fakehost', meta: { pid: '7' }, running: true, address: '10.0.0.5:80' }]);
  await hv.clone(spec('web-1'));
  t.is((await hv.boot(spec('web-1'), {})).address, '10.0.0.9:5');
});
