// XentopSource against a real sshd on loopback; a stand-in `xentop` prints a verbatim lab output.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Guest } from '../../../src/domain/types.ts';
import { XenHosts } from '../../../src/drivers/xen/xen-hosts.ts';
import { XentopSource } from '../../../src/drivers/xen/xentop-source.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { startSshd, type SshdFixture } from '../ssh/sshd-fixture.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/xentop-b-d1-i2.txt', import.meta.url));

let sshd: SshdFixture;
let dir: string;
const opened: XenHosts[] = [];
test.before(async () => {
  sshd = await startSshd();
  dir = mkdtempSync(join(tmpdir(), 'gridhost-xentop-'));
  // Prints its arguments to a file (to prove the flags) and the lab's real output.
  writeFileSync(join(dir, 'xentop'), `#!/bin/sh\necho "$@" > '${dir}/args'\ncat '${FIXTURE}'\n`, { mode: 0o755 });
});
test.after.always(async () => {
  for (const h of opened) await h.close();
  await sshd?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function hosts(withDead: boolean): XenHosts {
  const base = { address: '127.0.0.1', user: sshd.user, privateKeyPath: sshd.privateKeyPath, hostKeyFingerprint: sshd.hostKeyFingerprint };
  const list = [{ ...base, name: 'dom0-a', port: sshd.port }];
  if (withDead) list.push({ ...base, name: 'dom0-dead', port: 1 });
  const h = new XenHosts(list, { ssh: { connectAttempts: 1 } });
  opened.push(h);
  return h;
}

const guest = (id: string, host: string, domain: string): Guest => ({
  id,
  pool: 'web',
  state: 'healthy',
  driver: 'xen',
  host,
  createdAt: 0,
  updatedAt: 0,
  meta: { host, domain },
});

test('CPU%, memory and vCPUs come from the last xentop iteration, one command per dom0 per tick', async (t) => {
  const h = hosts(false);
  const src = new XentopSource({ hosts: h, xentopPath: join(dir, 'xentop') });
  const m = await src.sample([guest('web-1', 'dom0-a', 'web1'), guest('web-2', 'dom0-a', 'web2'), guest('web-9', 'dom0-a', 'web9')]);
  t.deepEqual(Object.fromEntries(m), {
    'web-1': { cpu: 10.2, memory_mb: 96, vcpus: 2 },
    'web-2': { cpu: 7.7, memory_mb: 128, vcpus: 2 },
  });
  t.is(h.counters().commands, 1);
  t.is(readFileSync(join(dir, 'args'), 'utf8').trim(), '-b -f -d 1 -i 2');
});

test('guests on a dom0 that does not answer are absent; the dom0 is marked down', async (t) => {
  const h = hosts(true);
  const src = new XentopSource({ hosts: h, xentopPath: join(dir, 'xentop') });
  const m = await src.sample([guest('web-1', 'dom0-a', 'web1'), guest('web-3', 'dom0-dead', 'web3')]);
  t.deepEqual([...m.keys()], ['web-1']);
  t.false(h.isUp('dom0-dead'));
  t.true(h.isUp('dom0-a'));
});

test('when no dom0 answers, sample() rejects GH_HOST_UNREACHABLE; a down dom0 is then skipped until retry time', async (t) => {
  const h = hosts(true);
  let now = 1_000_000;
  const src = new XentopSource({ hosts: h, xentopPath: join(dir, 'xentop'), now: () => now, retryDownMs: 30_000 });
  const only = [guest('web-3', 'dom0-dead', 'web3')];
  const e = await t.throwsAsync(src.sample(only), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_HOST_UNREACHABLE');
  t.true(e?.message.includes('1 tried'));
  now += 1000;
  const e2 = await t.throwsAsync(src.sample(only), { instanceOf: GridhostError });
  t.true(e2?.message.includes('0 tried, 1 skipped'));
  now += 30_000;
  const e3 = await t.throwsAsync(src.sample(only), { instanceOf: GridhostError });
  t.true(e3?.message.includes('1 tried'));
});
