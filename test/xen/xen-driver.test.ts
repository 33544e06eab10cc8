// The xl driver (XenHypervisor + XentopSource over SshHost) against a real Xen 4.17 lab:
// the full guest lifecycle with its health checked through the dom0 SSH connection, a refused
// wrong host key, and a real out-of-memory `xl create` that leaves nothing behind.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dom0Config } from '../../src/drivers/xen/xen-settings.ts';
import { DEFAULT_BALANCER, type Policy } from '../../src/domain/policy.ts';
import type { Guest } from '../../src/domain/types.ts';
import { XenHosts } from '../../src/drivers/xen/xen-hosts.ts';
import { XenHypervisor } from '../../src/drivers/xen/xen-hypervisor.ts';
import { XentopSource } from '../../src/drivers/xen/xentop-source.ts';
import { GridhostError } from '../../src/errors/errors.ts';
import { gridhostLeftovers, startLab, type Lab } from './lab.ts';
import { makePolicy as basePolicy } from '../../src/decision/test-helpers.ts';

let lab: Lab;
let dir: string;
let hosts: XenHosts;
let hv: XenHypervisor;
const CFG_DIR = '/etc/xen/gridhost';

test.before(async () => {
  lab = await startLab();
  dir = mkdtempSync(join(tmpdir(), 'gridhost-xen-driver-'));
  writeFileSync(join(dir, 'web.xl.cfg'), template(128));
  hosts = new XenHosts([dom0()]);
  hv = new XenHypervisor({ hosts, cfgDir: CFG_DIR });
});

test.after.always(async () => {
  await hv?.close();
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function dom0(fingerprint?: string): Dom0Config {
  return { name: 'lab', address: lab.host, port: lab.port, user: lab.username, privateKeyPath: lab.privateKeyPath, hostKeyFingerprint: fingerprint ?? lab.fingerprint };
}

function template(memoryMb: number): string {
  return [
    '# gridhost test pool: PV guest of the Xen lab',
    'name    = {{name}}',
    'uuid    = {{uuid}}',
    'type    = "pv"',
    `kernel  = "${lab.guestKernel}"`,
    `ramdisk = "${lab.guestRamdisk}"`,
    'extra   = "console=hvc0 quiet guestname={{name}} guestip={{ip}}"',
    `memory  = ${memoryMb}`,
    'vcpus   = 1',
    `vif     = [ 'bridge=${lab.bridge},mac={{mac}}' ]`,
    "disk    = [ 'format={{format}},vdev=xvda,access=rw,target={{disk}}' ]",
    'on_poweroff = "destroy"',
    'on_crash    = "destroy"',
    '',
  ].join('\n');
}

function policy(templatePath: string): Policy {
  const base = basePolicy({ file: join(dir, 'xen.yaml'), pool: 'xweb', balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' } });
  return {
    ...base,
    guest: {
      ...base.guest,
      driver: 'xen',
      template: templatePath,
      image: lab.baseImage,
      clone: 'copy', // the boot-time store is a plain directory (reflink needs `lab-stores xfs`)
      bootTimeoutMs: 180_000,
      stopTimeoutMs: 20_000,
      drainTimeoutMs: 1_000,
    },
  };
}

const leftovers = (): Promise<string[]> => gridhostLeftovers(lab, CFG_DIR);

async function waitHealthy(guest: Guest, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const r = await hv.httpGet(guest, '/healthz', 10_000);
      if (r.status === 200) return r.status;
      last = `status ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`guest ${guest.id} not healthy within ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

test.serial('clone, xl create, healthy through SSH forwarding, xentop, stop and deleteClone leave nothing behind, over one SSH connection', async (t) => {
  t.deepEqual(await leftovers(), []);
  const t0 = Date.now();
  const step = (what: string): void => t.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
  const spec = { id: 'xweb-a1', pool: 'xweb', policy: policy(join(dir, 'web.xl.cfg')) };
  const c = await hv.clone(spec);
  step('cloned');
  const guest: Guest = { id: spec.id, pool: 'xweb', state: 'booting', driver: 'xen', host: 'lab', address: c.address ?? '', createdAt: 0, updatedAt: 0, meta: { ...c.meta } };
  try {
    t.is(c.host, 'lab');
    t.regex(c.address ?? '', /^192\.168\.100\.\d+:80$/);
    t.true((await lab.sshOk(`cat ${CFG_DIR}/xweb-a1.cfg`)).includes('name    = "gh-xweb-a1"'), 'rendered cfg kept on dom0');
    const b = await hv.boot(spec, c.meta);
    step('xl create returned');
    Object.assign(guest.meta, b.meta);
    t.regex(guest.meta['domid'] ?? '', /^\d+$/);
    t.is(await waitHealthy(guest, 180_000), 200);
    step('healthy');

    const src = new XentopSource({ hosts });
    const m = await src.sample([guest]);
    step('xentop sampled');
    t.true(m.has(guest.id), 'xentop measured the guest');
    t.is(m.get(guest.id)?.vcpus, 1);
    t.is(m.get(guest.id)?.memory_mb, 128);

    const found = await hv.discover();
    t.like(found.find((g) => g.id === guest.id), { pool: 'xweb', host: 'lab', running: true, address: guest.address });
  } finally {
    try {
      await hv.stop(guest, 60_000);
      step('stopped');
    } finally {
      await hv.deleteClone(guest);
      step('clone deleted');
    }
  }
  t.deepEqual(await leftovers(), []);
  // idempotent
  await hv.stop(guest, 60_000);
  await hv.deleteClone(guest);
  const counters = hosts.counters();
  t.is(counters.handshakes, 1, 'one SSH handshake for the whole lifecycle');
  t.log(`ssh: ${counters.commands} commands, ${counters.forwards} forwards, ${counters.handshakes} handshake`);
});

test.serial('a dom0 presenting another host key than the pinned one is refused with GH_HOST_KEY_MISMATCH', async (t) => {
  const wrong = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
  const bad = new XenHosts([dom0(wrong)], { ssh: { connectAttempts: 1 } });
  try {
    const e = await t.throwsAsync(bad.exec('lab', ['xl', 'list'], { timeoutMs: 30_000 }), { instanceOf: GridhostError });
    t.is(e?.code, 'GH_HOST_KEY_MISMATCH');
    t.true(e?.message.includes(lab.fingerprint), 'shows the presented key');
    t.true(e?.message.includes(wrong), 'shows the pinned key');
    t.false(bad.isUp('lab'));
    t.is(bad.counters().commands, 0);
  } finally {
    await bad.close();
  }
});

test.serial('a guest asking for more memory than the host has is GH_OUT_OF_CAPACITY and leaves nothing behind', async (t) => {
  // Placement refuses it from xl info's free_memory before anything is made...
  writeFileSync(join(dir, 'huge.xl.cfg'), template(8192));
  const e1 = await t.throwsAsync(hv.clone({ id: 'xweb-b1', pool: 'xweb', policy: policy(join(dir, 'huge.xl.cfg')) }), { instanceOf: GridhostError });
  t.is(e1?.code, 'GH_OUT_OF_CAPACITY');
  t.deepEqual(await leftovers(), []);
  // ...and when the memory is gone by the time of `xl create`, real xl's failure is classified
  // and the half-built domain is gone: the clone is made, then its cfg is edited on dom0.
  const spec = { id: 'xweb-b2', pool: 'xweb', policy: policy(join(dir, 'web.xl.cfg')) };
  const c = await hv.clone(spec);
  const guest: Guest = { id: spec.id, pool: 'xweb', state: 'failed', driver: 'xen', host: 'lab', createdAt: 0, updatedAt: 0, meta: c.meta };
  try {
    await lab.sshOk(`sed -i 's/^memory  = 128$/memory  = 8192/' ${CFG_DIR}/xweb-b2.cfg && grep -q '^memory  = 8192' ${CFG_DIR}/xweb-b2.cfg`);
    const e2 = await t.throwsAsync(hv.boot(spec, c.meta), { instanceOf: GridhostError });
    t.is(e2?.code, 'GH_OUT_OF_CAPACITY');
    t.log(e2?.message);
    t.false((await lab.sshOk('xl list')).includes('gh-xweb-b2'), 'no domain left');
  } finally {
    await hv.deleteClone(guest);
  }
  t.deepEqual(await leftovers(), []);
});

test.serial('stop of a guest whose xl create was left running on dom0 (by a crashed gridhost) waits for its domain and removes it', async (t) => {
  const spec = { id: 'xweb-c1', pool: 'xweb', policy: policy(join(dir, 'web.xl.cfg')) };
  const c = await hv.clone(spec);
  const guest: Guest = { id: spec.id, pool: 'xweb', state: 'booting', driver: 'xen', host: 'lab', createdAt: 0, updatedAt: 0, meta: c.meta };
  // An orphaned create, as one outlives the SSH session of a gridhost that died (nobody waits
  // for it), with the driver's command line. It is caught before it makes the domain: the
  // wrapper (whose command line holds the same text) waits 5 s before it execs xl.
  const xl = `/usr/lib/xen-4.17/bin/xl create ${c.meta['cfg']}`;
  await lab.sshOk(`trap '' HUP; bash -c 'sleep 5; exec ${xl}' >/dev/null 2>&1 </dev/null &`);
  t.false((await lab.sshOk('xl list')).includes('gh-xweb-c1'), 'the stop starts before the domain exists');
  const createRunning = async (): Promise<boolean> => (await lab.sshOk(`ps -o args | grep -c '[x]l create ${c.meta['cfg']}' || true`)).trim() !== '0';
  t.true(await createRunning(), 'the orphaned create runs when the stop starts');
  try {
    await hv.stop(guest, 30_000);
    // Deleting the clone under a create that is still running races it: if the create has
    // attached the disk, its domain comes up after the cleanup. So stop must outwait it.
    t.false(await createRunning(), 'stop returned while the create was still running');
  } finally {
    await hv.deleteClone(guest);
  }
  // Give a create the driver missed time to show its domain (xl create takes 5-20 s here).
  await new Promise((r) => setTimeout(r, 20_000));
  t.deepEqual(await leftovers(), [], 'no domain appeared after the stop');
});
