import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { classifyXlError, isNoSuchDomain, parseXentop, parseXlInfo, parseXlList, parseXlListLong, xlErrorSummary } from '../../../src/drivers/xen/xl-parse.ts';
import { GridhostError, type ErrorCode } from '../../../src/errors/errors.ts';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), 'utf8');

test('xl list -l with guests gives domid, name, uuid, memory now and at most, vcpus online and at most, disks and MACs of each domain', (t) => {
  const doms = parseXlListLong(fixture('xl-list-l-guests.json'));
  t.deepEqual(
    doms.map((d) => [d.domid, d.name, d.uuid, d.memoryMb, d.maxMemoryMb, d.vcpus, d.maxVcpus]),
    [
      [0, 'Domain-0', undefined, 1024, 1024, 1, 1],
      [1, 'web1', '121c3c3e-7805-42c9-a64f-419519e3a985', 96, 256, 2, 2],
      [2, 'web3', '7fa83f0b-dc32-4b25-94bf-d1f45d5d9338', 128, 256, 1, 2],
      [3, 'web2', '009f6514-3346-47e1-8a4a-e41fa93ca55d', 128, 256, 1, 2],
    ],
  );
  t.deepEqual(doms[1]?.disks, ['/var/lib/xen/images/web1.img']);
  t.deepEqual(doms[1]?.macs, ['00:16:3e:00:00:0b']);
  t.is(doms[1]?.cmdline, 'console=hvc0 quiet guestname=web1 guestip=192.168.100.11');
});

test('xl list -l of a dom0 alone is one domain without uuid, disks or nics', (t) => {
  const doms = parseXlListLong(fixture('xl-list-l-dom0.json'));
  t.is(doms.length, 1);
  t.like(doms[0], { domid: 0, name: 'Domain-0', disks: [], macs: [] });
});

test('xl list -l output that is not a JSON array is GH_COMMAND_FAILED', (t) => {
  for (const bad of ['{', '{"a":1}', '[{"config":{}}]']) {
    t.is(t.throws(() => parseXlListLong(bad), { instanceOf: GridhostError })?.code, 'GH_COMMAND_FAILED', bad);
  }
  t.deepEqual(parseXlListLong(''), []);
});

test('plain xl list gives each domain state', (t) => {
  const text = [
    'Name                                        ID   Mem VCPUs\tState\tTime(s)',
    'Domain-0                                     0  1024     2     r-----     141.9',
    'web1                                         9   128     1     -b----       6.6',
    'web2                                        10   128     1     --p---       0.0',
    '',
  ].join('\n');
  t.deepEqual(parseXlList(text), [
    { name: 'Domain-0', domid: 0, memoryMb: 1024, vcpus: 2, state: 'r-----' },
    { name: 'web1', domid: 9, memoryMb: 128, vcpus: 1, state: '-b----' },
    { name: 'web2', domid: 10, memoryMb: 128, vcpus: 1, state: '--p---' },
  ]);
});

test('xl info gives free and total memory in MiB, the CPU count and the scheduler', (t) => {
  t.deepEqual(parseXlInfo(fixture('xl-info.txt')), { totalMemoryMb: 3071, freeMemoryMb: 2014, nrCpus: 2, xenVersion: '4.17.7', xenScheduler: 'credit2' });
});

test('xl info without free_memory is GH_COMMAND_FAILED', (t) => {
  t.is(t.throws(() => parseXlInfo('nr_cpus : 2\ntotal_memory : 3071\n'), { instanceOf: GridhostError })?.code, 'GH_COMMAND_FAILED');
});

test('xentop uses the last iteration (the first reports 0.0% CPU for everyone)', (t) => {
  const rows = parseXentop(fixture('xentop-b-d1-i2.txt'));
  t.deepEqual([...rows.keys()], ['Domain-0', 'web1', 'web2']);
  t.deepEqual(rows.get('web1'), { name: 'web1', state: '--b---', cpuPercent: 10.2, memoryKb: 98304, vcpus: 2 });
  t.is(rows.get('web2')?.cpuPercent, 7.7);
  t.is(rows.get('Domain-0')?.cpuPercent, 14.8);
});

test('xentop rows with "no limit" maxmem and long full names (-f) parse', (t) => {
  const text = [
    '                NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID',
    '            Domain-0 -----r        146    0.0    1048576   33.3   no limit       n/a     2    0        0        0    0        0        0        0          0          0    0',
    '  web-0123456789abcd --b---          8   55.5     131072    4.2     132096       4.2     1    1        2        1    1        0       12        4        104          8    0',
  ].join('\n');
  const rows = parseXentop(text);
  t.is(rows.get('web-0123456789abcd')?.cpuPercent, 55.5);
  t.is(rows.get('Domain-0')?.memoryKb, 1048576);
});

test('xentop output without a header is GH_COMMAND_FAILED', (t) => {
  t.is(t.throws(() => parseXentop('garbage'), { instanceOf: GridhostError })?.code, 'GH_COMMAND_FAILED');
});

const CREATE_ERRORS: Array<[string, number, ErrorCode]> = [
  ['xl-create-out-of-memory.stderr', 3, 'GH_OUT_OF_CAPACITY'],
  ['xl-create-name-in-use.stderr', 3, 'GH_NAME_IN_USE'],
  ['xl-create-missing-disk.stderr', 3, 'GH_TEMPLATE_INVALID'],
  ['xl-create-missing-kernel-synthesized.stderr', 3, 'GH_TEMPLATE_INVALID'],
  ['xl-create-hotplug-synthesized.stderr', 3, 'GH_BOOT_FAILED'],
];
for (const [file, code, expected] of CREATE_ERRORS) {
  test(`xl create failure ${file} is ${expected}`, (t) => {
    t.is(classifyXlError(fixture(file), code), expected);
  });
}

test('an unrecognised xl failure is GH_BOOT_FAILED', (t) => {
  t.is(classifyXlError('something odd happened', 3), 'GH_BOOT_FAILED');
});

test('the error summary keeps the cause and drops the destroy noise', (t) => {
  const s = xlErrorSummary(fixture('xl-create-out-of-memory.stderr'));
  t.true(s.startsWith('xc: error: panic: xg_dom_boot.c:119: xc_dom_boot_mem_init'));
  t.false(s.includes('Destruction of domain failed'));
});

test('"invalid domain identifier" is recognised as no such domain', (t) => {
  t.true(isNoSuchDomain(fixture('xl-invalid-domain.stderr')));
  t.false(isNoSuchDomain(fixture('xl-create-name-in-use.stderr')));
});
