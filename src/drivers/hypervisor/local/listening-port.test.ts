import test from 'ava';
import { parseProcNetTcp, reachableAt } from './listening-port.ts';

const HEAD = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const row = (local: string, st: string, inode: number): string =>
  `   0: ${local} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;

test('only LISTEN sockets are read, with the address in host byte order and the port in hex', (t) => {
  const text = HEAD + row('0100007F:A5ED', '0A', 111) + row('0100007F:1F90', '01', 222) + row('00000000:07E8', '0A', 333);
  t.deepEqual(parseProcNetTcp(text), [
    { inode: 111, address: '127.0.0.1', port: 0xa5ed },
    { inode: 333, address: '0.0.0.0', port: 2024 },
  ]);
});

test('IPv6 rows: the wildcard, a v4-mapped loopback, and any other address kept as hex', (t) => {
  const text = HEAD
    + row('00000000000000000000000000000000:0050', '0A', 1)
    + row('0000000000000000FFFF00000100007F:0051', '0A', 2)
    + row('00000000000000000000000001000000:0052', '0A', 3);
  t.deepEqual(parseProcNetTcp(text).map((s) => s.address), ['::', '::ffff:127.0.0.1', '00000000000000000000000001000000']);
});

test('a malformed line is skipped', (t) => {
  t.deepEqual(parseProcNetTcp(`${HEAD}garbage\n${row('0100007F:0001', '0A', 0)}`), []);
});

for (const [address, reached] of [['127.0.0.1', true], ['0.0.0.0', true], ['::', true], ['::ffff:127.0.0.1', true], ['127.0.0.2', false], ['00000000000000000000000001000000', false]] as const) {
  test(`a connection to 127.0.0.1 reaches a socket at ${address}: ${reached}`, (t) => {
    t.is(reachableAt(address, '127.0.0.1'), reached);
  });
}
