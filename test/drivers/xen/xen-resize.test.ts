// Vertical first on Xen (policy guest.vertical) through the real driver: a real sshd on loopback,
// test/drivers/xen/fake-xl.sh for xl (it keeps each domain's vCPUs and memory and refuses more
// than the cfg's maxvcpus/maxmem), asserting the xl argv that reached dom0.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GridhostError } from '../../../src/errors/errors.ts';
import { guestOf, oneDom0Fixture, xenTemplate } from './one-dom0.ts';
import { vcpuOnline } from '../../../scripts/bench/xen-vertical-bench.ts';
import { adoptedMeta } from '../../../src/controller/reconciler.ts';
import { guestSizeOf } from '../../../src/decision/vertical-step.ts';

const { setup: setupWith, cleanup } = oneDom0Fixture();
test.after.always(cleanup);
const template = (extra = 'vcpus = 1\nmaxvcpus = 2\nmaxmem = 256\n') => xenTemplate(extra);
const setup = (tpl = template()) => setupWith(tpl);


async function booted(e: Awaited<ReturnType<typeof setup>>, id: string, fence?: { pool: string; token: number; holder: string; acquiredAt: number }) {
  const spec = { id, pool: 'web', policy: e.policy(), ...(fence ? { fence } : {}) };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  return guestOf(id, { ...c.meta, ...b.meta });
}
const size = (e: Awaited<ReturnType<typeof setup>>, dom: string) => readFileSync(join(e.state, 'size', dom), 'utf8').trim();

test('a clone records the template\'s vcpus, maxvcpus, memory and maxmem as the guest\'s size facts', async (t) => {
  const e = await setup();
  const g = await booted(e, 'web-r1');
  t.like(g.meta, { vcpus: '1', maxvcpus: '2', base_vcpus: '1', memory_mb: '128', maxmem_mb: '256', base_memory_mb: '128' });
});

test('a template without maxvcpus/maxmem records its vcpus and memory as the ceiling (no room to step)', async (t) => {
  const e = await setup(template(''));
  const g = await booted(e, 'web-r2');
  t.like(g.meta, { vcpus: '1', maxvcpus: '1', memory_mb: '128', maxmem_mb: '128' });
});

test('resize runs xl vcpu-set DOMAIN N then xl mem-set DOMAIN NNNm and returns the size now', async (t) => {
  const e = await setup();
  const g = await booted(e, 'web-r3');
  const r = await e.hv.resize(g, { vcpus: 2, memoryMb: 192 });
  t.deepEqual(r.meta, { vcpus: '2', memory_mb: '192' });
  t.deepEqual(e.argv().filter((a) => a.startsWith('vcpu-set') || a.startsWith('mem-set')), ['vcpu-set gh-web-r3 2', 'mem-set gh-web-r3 192m']);
  t.is(size(e, 'gh-web-r3'), '2 2 192 256');
  // Only what differs is sent.
  await e.hv.resize({ ...g, meta: { ...g.meta, ...r.meta } }, { vcpus: 1, memoryMb: 192 });
  t.deepEqual(e.argv().filter((a) => a.startsWith('vcpu-set') || a.startsWith('mem-set')).slice(2), ['vcpu-set gh-web-r3 1']);
});

test('xl refusing vCPUs above maxvcpus is GH_RESIZE_FAILED and nothing else is changed', async (t) => {
  const e = await setup();
  const g = await booted(e, 'web-r4');
  const err = await t.throwsAsync(e.hv.resize(g, { vcpus: 3, memoryMb: 192 }), { instanceOf: GridhostError, code: 'GH_RESIZE_FAILED', message: /vcpu-set gh-web-r4 3.*maxcpus is 2/ });
  t.deepEqual(err?.details['meta'], {});
  t.is(size(e, 'gh-web-r4'), '1 2 128 256');
});

test('a mem-set that fails after the vCPUs were set says in details.meta the size the domain has now', async (t) => {
  const e = await setup();
  const g = await booted(e, 'web-r5');
  writeFileSync(join(e.state, 'mem_set_fails'), '');
  const err = await t.throwsAsync(e.hv.resize(g, { vcpus: 2, memoryMb: 192 }), { instanceOf: GridhostError, code: 'GH_RESIZE_FAILED', message: /mem-set gh-web-r5 192m/ });
  t.deepEqual(err?.details['meta'], { vcpus: '2' });
  t.is(size(e, 'gh-web-r5'), '2 2 128 256');
});

test('a deposed leader\'s resize is refused on dom0 with GH_FENCED and changes nothing', async (t) => {
  const e = await setup();
  const newer = { pool: 'web', token: 2, holder: 'proc-b', acquiredAt: 2_000 };
  const older = { pool: 'web', token: 1, holder: 'proc-a', acquiredAt: 1_000 };
  const g = await booted(e, 'web-r6', newer);
  await t.throwsAsync(e.hv.resize(g, { vcpus: 2, memoryMb: 128 }, older), { instanceOf: GridhostError, code: 'GH_FENCED' });
  t.is(size(e, 'gh-web-r6'), '1 2 128 256');
  t.deepEqual((await e.hv.resize(g, { vcpus: 2, memoryMb: 128 }, newer)).meta, { vcpus: '2' });
});

test('placement reserves a template\'s maxmem, not only its memory, so a step up cannot overcommit the dom0', async (t) => {
  const e = await setup(template('maxmem = 4000\n'));
  // free_memory 2014 MiB: memory 128 fits, maxmem 4000 does not.
  await t.throwsAsync(e.hv.clone({ id: 'web-r7', pool: 'web', policy: e.policy() }), { instanceOf: GridhostError, code: 'GH_OUT_OF_CAPACITY' });
});

test('discover reports a running guest\'s vCPUs and memory as dom0 has them now (a resize included) and its template\'s as the floor, so an adopted guest has the size facts its record had', async (t) => {
  const e = await setup();
  const g = await booted(e, 'web-r8');
  const r = await e.hv.resize(g, { vcpus: 2, memoryMb: 192 });
  await e.hv.clone({ id: 'web-r9', pool: 'web', policy: e.policy() }); // a clone never booted
  // A restarted gridhost (or one whose store was reset) knows only what dom0 says.
  const found = await e.restarted().discover();
  const running = found.find((x) => x.id === 'web-r8')!;
  t.deepEqual(running.size, { vcpus: 2, maxVcpus: 2, memoryMb: 192, maxMemoryMb: 256, baseVcpus: 1, baseMemoryMb: 128 });
  t.deepEqual(guestSizeOf({ meta: adoptedMeta(running) }), guestSizeOf({ meta: { ...g.meta, ...r.meta } }));
  t.is(found.find((x) => x.id === 'web-r9')?.size, undefined);
});

test('the lab bench reads a vCPU as online from xl vcpu-list only when it has a CPU and is not paused (offline)', (t) => {
  const list = [
    'Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)',
    'gh-web-v1                            3     0    1   -b-       1.2  all / all',
    'gh-web-v1                            3     1    -   --p       0.0  all / all',
  ].join('\n');
  t.true(vcpuOnline(list, 'gh-web-v1', 0));
  t.false(vcpuOnline(list, 'gh-web-v1', 1));
  t.true(vcpuOnline(list.replace('    1    -   --p', '    1    0   r--'), 'gh-web-v1', 1));
  t.false(vcpuOnline(list, 'gh-web-v2', 0));
});
