// guest.credit and template pinning on the real Xen lab (written for the lead's lab runs:
// npx ava --config ava-xen.config.js test/xen/xen-native-sched.test.ts). A guest of a policy with
// credit { weight: 512, cap: 50 } and a template pinning its vCPU to CPU 0: after boot
// `xl sched-credit2 -d` (or sched-credit, whichever xl info's xen_scheduler is) shows the weight
// and cap and `xl vcpu-list` the hard affinity; parameters changed behind gridhost's back are
// the policy's again after a new gridhost process (a new driver) takes the guest up (reapply).
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BALANCER, type Policy } from '../../src/domain/policy.ts';
import type { Guest } from '../../src/domain/types.ts';
import { XenHosts } from '../../src/drivers/xen/xen-hosts.ts';
import { XenHypervisor } from '../../src/drivers/xen/xen-hypervisor.ts';
import { makePolicy as basePolicy } from '../../src/decision/test-helpers.ts';
import { gridhostLeftovers, startLab, type Lab } from './lab.ts';

let lab: Lab;
let dir: string;
const CFG_DIR = '/etc/xen/gridhost';
const drivers: XenHypervisor[] = [];

test.before(async () => {
  lab = await startLab();
  dir = mkdtempSync(join(tmpdir(), 'gridhost-xen-sched-'));
  writeFileSync(join(dir, 'web.xl.cfg'), [
    '# gridhost test pool: PV guest of the Xen lab, its one vCPU pinned to CPU 0',
    'name    = {{name}}',
    'uuid    = {{uuid}}',
    'type    = "pv"',
    `kernel  = "${lab.guestKernel}"`,
    `ramdisk = "${lab.guestRamdisk}"`,
    'extra   = "console=hvc0 quiet guestname={{name}} guestip={{ip}}"',
    'memory  = 128',
    'vcpus   = 1',
    'cpus    = "0"',
    `vif     = [ 'bridge=${lab.bridge},mac={{mac}}' ]`,
    "disk    = [ 'format={{format}},vdev=xvda,access=rw,target={{disk}}' ]",
    'on_poweroff = "destroy"',
    'on_crash    = "destroy"',
    '',
  ].join('\n'));
});

test.after.always(async () => {
  for (const d of drivers) await d.close();
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A driver as one gridhost process has it (its own SSH connection). */
function driver(): XenHypervisor {
  const hosts = new XenHosts([{ name: 'lab', address: lab.host, port: lab.port, user: lab.username, privateKeyPath: lab.privateKeyPath, hostKeyFingerprint: lab.fingerprint }]);
  const hv = new XenHypervisor({ hosts, cfgDir: CFG_DIR });
  drivers.push(hv);
  return hv;
}

function policy(credit: { weight: number; cap: number }): Policy {
  const base = basePolicy({ file: join(dir, 'xen.yaml'), pool: 'xsched', balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' } });
  return { ...base, guest: { ...base.guest, driver: 'xen', template: join(dir, 'web.xl.cfg'), image: lab.baseImage, clone: 'copy', bootTimeoutMs: 180_000, stopTimeoutMs: 20_000, drainTimeoutMs: 1_000, credit } };
}

/** Weight and cap of `domain` as `xl sched-credit2 -d` (or sched-credit) prints them. */
async function creditOf(scheduler: string, domain: string): Promise<{ weight: number; cap: number }> {
  const out = await lab.sshOk(`xl ${scheduler === 'credit' ? 'sched-credit' : 'sched-credit2'} -d ${domain}`);
  // Name ID Weight Cap (credit2 may print more columns after Cap).
  const row = out.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0] === domain);
  if (!row) throw new Error(`no ${domain} row in:\n${out}`);
  return { weight: Number(row[2]), cap: Number(row[3]) };
}

/** Hard affinity of vCPU 0 of `domain` (`xl vcpu-list`: Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)). */
async function hardAffinity(domain: string): Promise<string> {
  const out = await lab.sshOk(`xl vcpu-list ${domain}`);
  const row = out.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0] === domain && f[2] === '0');
  if (!row) throw new Error(`no vCPU 0 row of ${domain} in:\n${out}`);
  return row[6] ?? '';
}

test.serial('a booted guest has the policy\'s credit weight and cap and the template\'s pinning; a new gridhost sets the credit again', async (t) => {
  t.deepEqual(await gridhostLeftovers(lab, CFG_DIR), []);
  const scheduler = (await lab.sshOk('xl info')).match(/^xen_scheduler\s*:\s*(\S+)/m)?.[1] ?? '';
  t.log(`xen_scheduler: ${scheduler}`);
  const hv = driver();
  const spec = { id: 'xsched-a1', pool: 'xsched', policy: policy({ weight: 512, cap: 50 }) };
  const c = await hv.clone(spec);
  const guest: Guest = { id: spec.id, pool: 'xsched', state: 'booting', driver: 'xen', host: 'lab', address: c.address ?? '', createdAt: 0, updatedAt: 0, meta: { ...c.meta } };
  try {
    t.is(c.meta['cpus'], '0');
    const b = await hv.boot(spec, c.meta);
    Object.assign(guest.meta, b.meta);
    t.like(b.meta, { scheduler, creditWeight: '512', creditCap: '50' });
    const domain = guest.meta['domain']!;
    t.deepEqual(await creditOf(scheduler, domain), { weight: 512, cap: 50 });
    t.is(await hardAffinity(domain), '0');

    // Changed behind gridhost's back; a restarted gridhost (a new driver) takes the guest up.
    await lab.sshOk(`xl ${scheduler === 'credit' ? 'sched-credit' : 'sched-credit2'} -d ${domain} -w 256 -c 0`);
    t.deepEqual(await creditOf(scheduler, domain), { weight: 256, cap: 0 });
    const applied = await driver().reapply(guest, policy({ weight: 1024, cap: 25 }));
    t.like(applied, { scheduler, creditWeight: '1024', creditCap: '25' });
    t.deepEqual(await creditOf(scheduler, domain), { weight: 1024, cap: 25 });
    t.is(await hardAffinity(domain), '0', 'pinning is the domain\'s own (its config), untouched');
  } finally {
    try {
      await hv.stop(guest, 60_000);
    } finally {
      await hv.deleteClone(guest);
    }
  }
  t.deepEqual(await gridhostLeftovers(lab, CFG_DIR), []);
});
