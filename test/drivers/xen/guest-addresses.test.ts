import test from 'ava';
import { takenAddresses } from '../../../src/drivers/xen/guest-addresses.ts';
import type { XlDomain } from '../../../src/drivers/xen/xl-parse.ts';

const domain = (name: string, cmdline: string, macs: string[]): XlDomain => ({ domid: 1, name, memoryMb: 128, maxMemoryMb: 128, vcpus: 1, maxVcpus: 1, cmdline, disks: [], macs });

test('a running domain takes the IP on its kernel command line (guestip= or ip=) and its MACs, case-folded', (t) => {
  const taken = takenAddresses(
    [domain('gh-a', 'console=hvc0 guestip=192.168.100.10', ['00:16:3E:AA:00:01']), domain('other', 'root=/dev/xvda ip=192.168.100.20', [])],
    [],
  );
  t.deepEqual([...taken.ips].sort(), ['192.168.100.10', '192.168.100.20']);
  t.deepEqual([...taken.macs], ['00:16:3e:aa:00:01']);
});

test('a rendered config reserves its IP and MAC before its domain exists', (t) => {
  const taken = takenAddresses([], [{ guest: 'web-1', ip: '192.168.100.11', mac: '00:16:3e:00:00:0B' }, { guest: 'web-2' }]);
  t.deepEqual([...taken.ips], ['192.168.100.11']);
  t.deepEqual([...taken.macs], ['00:16:3e:00:00:0b']);
});

test('an ip= inside another word does not count (myip=...)', (t) => {
  t.is(takenAddresses([domain('x', 'myip=192.168.100.30', [])], []).ips.size, 0);
});
