// HostUsage: one measurement per dom0 serves every pool for its ttl, and a dom0 that does not
// answer is not tried again on every tick. Against a real sshd (fake-xl.sh for xl and xentop)
// and a dom0 nobody answers for.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostUsage, hostCpuRatio } from '../../../src/drivers/xen/host-usage.ts';
import { XenHosts } from '../../../src/drivers/xen/xen-hosts.ts';
import { startSshd } from '../ssh/sshd-fixture.ts';

const FAKE_XL = fileURLToPath(new URL('./fake-xl.sh', import.meta.url));

test('hostCpuRatio: every domain\'s CPU% over 100 x the CPUs', (t) => {
  const row = (name: string, cpuPercent: number) => [name, { name, state: '-b----', cpuPercent, memoryKb: 1, vcpus: 1 }] as const;
  t.is(hostCpuRatio(new Map([row('Domain-0', 50), row('gh-a', 250)]), 4), 0.75);
  t.is(hostCpuRatio(new Map(), 2), 0);
});

test('one measurement per dom0 per ttl, shared by callers; a down dom0 is retried only after retryDownMs', async (t) => {
  const sshd = await startSshd();
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-host-usage-'));
  t.teardown(async () => {
    await hosts.close();
    await sshd.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const state = join(dir, 'state');
  mkdirSync(join(state, 'cpu'), { recursive: true });
  writeFileSync(join(dir, 'xl'), `#!/bin/sh\nXL_STATE='${state}' exec '${FAKE_XL}' "$@"\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'xentop'), `#!/bin/sh\nXL_STATE='${state}' exec '${FAKE_XL}' xentop "$@"\n`, { mode: 0o755 });
  const dom0 = { address: '127.0.0.1', user: sshd.user, privateKeyPath: sshd.privateKeyPath, hostKeyFingerprint: sshd.hostKeyFingerprint };
  const hosts = new XenHosts([{ name: 'dom0-a', port: sshd.port, ...dom0 }, { name: 'dom0-dead', port: 1, ...dom0 }], { ssh: { connectAttempts: 1 } });
  // Which dom0 each command was sent to (the real XenHosts does the sending).
  const sentTo: string[] = [];
  const exec = hosts.exec.bind(hosts);
  hosts.exec = (name, argv, o) => {
    sentTo.push(name);
    return exec(name, argv, o);
  };
  const toDead = () => sentTo.filter((h) => h === 'dom0-dead').length;
  let now = 1_000_000;
  const usage = new HostUsage({ hosts, xlPath: join(dir, 'xl'), xentopPath: join(dir, 'xentop'), ttlMs: 3000, retryDownMs: 30_000, now: () => now });
  const xentops = () => readFileSync(join(state, 'argv'), 'utf8').split('\n').filter((l) => l.startsWith('xentop')).length;

  writeFileSync(join(state, 'cpu', 'Domain-0'), '100.0');
  const [a, b] = await Promise.all([usage.facts(), usage.facts()]);
  t.deepEqual(a, [{ host: 'dom0-a', cpuRatio: 0.5, freeMemoryMb: 2014 }], 'the dead dom0 is left out');
  t.deepEqual(b, a);
  t.is(xentops(), 1, 'two callers at once: one xentop');
  now += 2999;
  writeFileSync(join(state, 'cpu', 'Domain-0'), '180.0');
  t.is((await usage.facts())[0]!.cpuRatio, 0.5, 'inside the ttl: the same measurement');
  now += 1;
  t.is((await usage.facts())[0]!.cpuRatio, 0.9, 'after it: measured again');
  t.is(xentops(), 2);
  // The dead dom0 was tried once (xl info and xentop) at the start, not again within 30 s.
  t.is(toDead(), 2);
  t.false(hosts.isUp('dom0-dead'));
  now = 1_000_000 + 29_999;
  await usage.facts();
  t.is(toDead(), 2, 'not tried inside retryDownMs');
  now = 1_000_000 + 30_000;
  await usage.facts();
  t.is(toDead(), 4, 'tried again after it');
});
