import test from 'ava';
import { DEFAULT_GUEST_NETWORK, freeGuestIp, intToIpv4, ipv4ToInt, netmaskOf, networkProblem, networkVars, parseAddressRange, rangesOverlap, type GuestNetwork } from '../../../src/drivers/xen/guest-network.ts';

const net = (first: string, last: string, over: Partial<GuestNetwork> = {}): GuestNetwork => ({ bridge: 'xenbr0', first: ipv4ToInt(first)!, last: ipv4ToInt(last)!, prefixLength: 24, port: 80, ...over });

test('dotted quads round-trip; anything else is not an address', (t) => {
  for (const ip of ['0.0.0.0', '10.0.0.1', '192.168.100.250', '255.255.255.255']) t.is(intToIpv4(ipv4ToInt(ip)!), ip);
  for (const bad of ['256.0.0.1', '10.0.0', '10.0.0.1.2', '010.0.0.1', ' 10.0.0.1', '10.0.0.-1', 'a.b.c.d', '']) t.is(ipv4ToInt(bad), undefined, bad);
});

test('netmasks of prefix lengths', (t) => {
  t.is(netmaskOf(24), '255.255.255.0');
  t.is(netmaskOf(22), '255.255.252.0');
  t.is(netmaskOf(30), '255.255.255.252');
  t.is(netmaskOf(8), '255.0.0.0');
});

test('a range is FIRST-LAST inclusive, or a CIDR without its subnet and broadcast addresses', (t) => {
  t.deepEqual(parseAddressRange('10.0.0.10-10.0.0.12'), { first: ipv4ToInt('10.0.0.10'), last: ipv4ToInt('10.0.0.12') });
  t.deepEqual(parseAddressRange('10.0.0.77/24'), { first: ipv4ToInt('10.0.0.1'), last: ipv4ToInt('10.0.0.254'), prefixLength: 24 });
  t.deepEqual(parseAddressRange('10.0.0.0/30'), { first: ipv4ToInt('10.0.0.1'), last: ipv4ToInt('10.0.0.2'), prefixLength: 30 });
  for (const bad of ['10.0.0.12-10.0.0.10', '10.0.0.1', '10.0.0.0/31', '10.0.0.0/7', '10.0.0.1-10.0.0.2-10.0.0.3', 'x-y']) t.true('error' in parseAddressRange(bad), bad);
});

test('the lowest free address is handed out, never the gateway; none when all are taken', (t) => {
  const n = net('10.0.0.1', '10.0.0.3', { gateway: '10.0.0.1' });
  t.is(freeGuestIp(n, new Set()), '10.0.0.2');
  t.is(freeGuestIp(n, new Set(['10.0.0.2'])), '10.0.0.3');
  t.is(freeGuestIp(n, new Set(['10.0.0.2', '10.0.0.3'])), undefined);
  t.is(freeGuestIp(DEFAULT_GUEST_NETWORK, new Set(['192.168.100.10'])), '192.168.100.11');
});

test("a network's parts must fit: the range in one subnet, the gateway inside it", (t) => {
  t.is(networkProblem(net('10.0.0.10', '10.0.0.20', { gateway: '10.0.0.1' })), undefined);
  t.regex(networkProblem(net('10.0.0.10', '10.0.1.20'))!, /not in one \/24 subnet/);
  t.is(networkProblem(net('10.0.0.10', '10.0.1.20', { prefixLength: 23 })), undefined);
  t.regex(networkProblem(net('10.0.0.10', '10.0.0.20', { gateway: '10.0.1.1' }))!, /outside the guests' subnet/);
});

test('ranges overlap when they share one address', (t) => {
  t.true(rangesOverlap(net('10.0.0.10', '10.0.0.20'), net('10.0.0.20', '10.0.0.30')));
  t.false(rangesOverlap(net('10.0.0.10', '10.0.0.20'), net('10.0.0.21', '10.0.0.30')));
});

test("a network's template placeholders; gateway only when there is one", (t) => {
  t.deepEqual(networkVars(net('10.0.0.10', '10.0.0.20', { gateway: '10.0.0.1', prefixLength: 22 })), { bridge: 'xenbr0', prefix_length: 22, netmask: '255.255.252.0', port: 80, gateway: '10.0.0.1' });
  t.false('gateway' in networkVars(net('10.0.0.10', '10.0.0.20')));
});
