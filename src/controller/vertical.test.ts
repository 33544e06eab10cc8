import test from 'ava';
import type { Guest, ResizeDecision } from '../domain/types.ts';
import { guest, makePolicy, NOW } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { GridhostError } from '../errors/errors.ts';
import { applyResize } from './vertical.ts';

const SIZE = { vcpus: '1', maxvcpus: '2', base_vcpus: '1', memory_mb: '512', maxmem_mb: '1024', base_memory_mb: '512' };
async function rig(n = 2) {
  const store = new MemoryStore(() => NOW);
  const hv = new FakeHypervisor();
  const saved: Guest[] = [];
  for (let i = 1; i <= n; i++) {
    const g = await store.saveGuest({ ...guest(`web-${i}`, 'healthy'), meta: { ...SIZE } });
    hv.seed({ id: g.id, pool: 'web', running: true, meta: { ...SIZE } });
    saved.push(g);
  }
  const up = (ids: string[]): ResizeDecision => ({
    pool: 'web', at: NOW, from: n, to: n, reason: 'resize up', inputs: { series: {}, min: 2, max: 8, schedules: [] }, action: 'resize', direction: 'up',
    guests: ids.map((id) => ({ id, vcpus: { from: 1, to: 2 }, memoryMb: { from: 512, to: 768 } })),
  });
  return { store, hv, saved, up, deps: { store, hypervisor: () => hv, now: () => NOW } };
}

test('a resize sets each guest\'s size through its driver and writes it to the guest\'s record with a history entry', async (t) => {
  const r = await rig();
  const out = await applyResize(r.deps, r.up(['web-1', 'web-2']), makePolicy());
  t.is(out.outcome, 'done');
  t.is(out.resized, 2);
  t.deepEqual(r.hv.callsOf('resize'), ['web-1', 'web-2']);
  for (const id of ['web-1', 'web-2']) {
    const g = (await r.store.getGuest(id))!;
    t.is(g.meta['vcpus'], '2');
    t.is(g.meta['memory_mb'], '768');
    t.is(g.history?.at(-1)?.action, 'resize');
  }
});

test('a guest whose record changed since the decision (another size, or no longer serving) is left out, not resized', async (t) => {
  const r = await rig();
  await r.store.saveGuest({ ...r.saved[0]!, meta: { ...SIZE, vcpus: '2' } });
  await r.store.saveGuest({ ...r.saved[1]!, state: 'draining' });
  const out = await applyResize(r.deps, r.up(['web-1', 'web-2']), makePolicy());
  t.is(out.outcome, 'skipped');
  t.deepEqual(r.hv.callsOf('resize'), []);
  t.regex(out.detail, /left out: web-1, web-2/);
});

test('a driver that refuses the step fails the resize; the guest keeps the size its record had', async (t) => {
  const r = await rig(1);
  r.hv.failNext('resize', new GridhostError('GH_RESIZE_FAILED', 'xl vcpu-set refused'));
  const out = await applyResize(r.deps, r.up(['web-1']), makePolicy());
  t.is(out.outcome, 'failed');
  t.regex(out.detail, /xl vcpu-set refused/);
  const g = (await r.store.getGuest('web-1'))!;
  t.is(g.meta['vcpus'], '1');
  t.is(g.history?.at(-1)?.outcome, 'failed');
  t.is(g.history?.at(-1)?.code, 'GH_RESIZE_FAILED');
});

test('a driver without resize fails the decision with GH_RESIZE_FAILED\'s message', async (t) => {
  const r = await rig(1);
  const out = await applyResize({ ...r.deps, hypervisor: () => ({ ...r.hv, name: 'plain', resize: undefined }) as unknown as FakeHypervisor }, r.up(['web-1']), makePolicy());
  t.is(out.outcome, 'failed');
  t.regex(out.detail, /cannot resize guests/);
});
