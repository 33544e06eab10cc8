import test from 'ava';
import { clonePlan } from '../../../src/drivers/xen/clone-commands.ts';
import { GridhostError } from '../../../src/errors/errors.ts';

test('reflink clones next to the base with cp --reflink=always', (t) => {
  t.deepEqual(clonePlan('reflink', '/var/lib/xen/images/base.img', 'web-1'), {
    method: 'reflink',
    target: '/var/lib/xen/images/web-1.img',
    format: 'raw',
    create: ['cp', '--reflink=always', '--', '/var/lib/xen/images/base.img', '/var/lib/xen/images/web-1.img'],
    remove: ['rm', '-f', '--', '/var/lib/xen/images/web-1.img'],
  });
});

test('copy is a plain cp and auto lets cp reflink when it can', (t) => {
  t.deepEqual(clonePlan('copy', '/img/base.img', 'web-1').create, ['cp', '--', '/img/base.img', '/img/web-1.img']);
  t.deepEqual(clonePlan('auto', '/img/base.img', 'web-1').create, ['cp', '--reflink=auto', '--', '/img/base.img', '/img/web-1.img']);
});

test('qcow2 makes an overlay backed by the raw base', (t) => {
  const p = clonePlan('qcow2', '/img/base.img', 'web-1');
  t.deepEqual(p.create, ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/img/base.img', '/img/web-1.qcow2']);
  t.is(p.format, 'qcow2');
  t.is(p.target, '/img/web-1.qcow2');
});

test('lvm-snapshot snapshots VG/base into /dev/VG/<id>', (t) => {
  const p = clonePlan('lvm-snapshot', '/dev/gridhost/base', 'web-1', { snapshotSize: '64M' });
  t.deepEqual(p.create, ['lvcreate', '-q', '-s', '-n', 'web-1', '-L', '64M', 'gridhost/base']);
  t.deepEqual(p.remove, ['lvremove', '-q', '-f', 'gridhost/web-1']);
  t.is(p.target, '/dev/gridhost/web-1');
});

test('lvm-snapshot refuses an image that is not /dev/VG/LV', (t) => {
  t.is(t.throws(() => clonePlan('lvm-snapshot', '/img/base.img', 'web-1'), { instanceOf: GridhostError })?.code, 'GH_TEMPLATE_INVALID');
});

test('unsafe guest ids and base paths never reach a command', (t) => {
  for (const [base, id] of [
    ['/img/base.img', '../etc'],
    ['/img/base.img', 'a b'],
    ['img/base.img', 'web-1'],
    ['/img/../base.img', 'web-1'],
  ] as const) {
    t.is(t.throws(() => clonePlan('copy', base, id), { instanceOf: GridhostError })?.code, 'GH_UNSAFE_ARGUMENT', `${base} ${id}`);
  }
});
