import test from 'ava';
import { createXenDrivers } from '../../../src/drivers/xen/create-xen-drivers.ts';
import { GridhostError } from '../../../src/errors/errors.ts';

const DOM0 = { name: 'dom0-a', address: '127.0.0.1', port: 22, user: 'root', privateKeyPath: '/nonexistent', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` };

test('no dom0 configured is GH_CONFIG_INVALID', (t) => {
  t.is(t.throws(() => createXenDrivers([]), { instanceOf: GridhostError })?.code, 'GH_CONFIG_INVALID');
});

test('a dom0 named twice is GH_CONFIG_INVALID', (t) => {
  t.is(t.throws(() => createXenDrivers([DOM0, DOM0]), { instanceOf: GridhostError })?.code, 'GH_CONFIG_INVALID');
});

test('a pinned fingerprint that is not SHA256:<base64> is GH_CONFIG_INVALID', (t) => {
  t.is(t.throws(() => createXenDrivers([{ ...DOM0, hostKeyFingerprint: 'aa:bb:cc' }]), { instanceOf: GridhostError })?.code, 'GH_CONFIG_INVALID');
});

test('the hypervisor and xentop source share the dom0 hosts, so one connection serves both', async (t) => {
  const d = createXenDrivers([DOM0]);
  t.deepEqual(d.hosts.names(), ['dom0-a']);
  t.is(d.hypervisor.name, 'xen');
  t.is(d.xentop.name, 'xentop');
  t.is(d.hosts.ssh('dom0-a'), d.hosts.ssh('dom0-a'));
  await d.close();
});
