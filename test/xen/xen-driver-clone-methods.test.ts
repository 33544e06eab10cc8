// Each clone method of the xl driver against the real tools in the Xen lab's dom0: reflink on an
// XFS reflink=1 store, lvm-snapshot on an LVM VG, qcow2 overlays with qemu-img, and copy.
// clone() makes the disk and the rendered cfg; deleteClone() leaves nothing behind.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type CloneMethod, type Policy } from '../../src/domain/policy.ts';
import type { Guest } from '../../src/domain/types.ts';
import { XenHosts } from '../../src/drivers/xen/xen-hosts.ts';
import { XenHypervisor } from '../../src/drivers/xen/xen-hypervisor.ts';
import { startLab, type Lab } from './lab.ts';

let lab: Lab;
let dir: string;
let hv: XenHypervisor;
const CFG_DIR = '/etc/xen/gridhost';

test.before(async () => {
  lab = await startLab({ stores: ['xfs', 'lvm'] });
  dir = mkdtempSync(join(tmpdir(), 'gridhost-xen-clone-'));
  writeFileSync(
    join(dir, 'web.xl.cfg'),
    `name = {{name}}\ntype = "pv"\nkernel = "${lab.guestKernel}"\nmemory = 128\nvif = [ 'bridge=${lab.bridge},mac={{mac}}' ]\ndisk = [ 'format={{format}},vdev=xvda,access=rw,target={{disk}}' ]\n`,
  );
  const hosts = new XenHosts([{ name: 'lab', address: lab.host, port: lab.port, user: lab.username, privateKeyPath: lab.privateKeyPath, hostKeyFingerprint: lab.fingerprint }]);
  // The lab's VG is small: snapshots of 16 MiB (its base LV is 32 MiB).
  hv = new XenHypervisor({ hosts, cfgDir: CFG_DIR, lvmSnapshotSize: '16M', commandTimeoutMs: 120_000 });
});

test.after.always(async () => {
  await hv?.close();
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function policy(clone: CloneMethod, image: string): Policy {
  return {
    file: join(dir, 'p.yaml'),
    pool: 'cm',
    min: 2,
    max: 8,
    guest: { driver: 'xen', template: join(dir, 'web.xl.cfg'), image, clone, healthPath: '/healthz', metricsPath: '/metrics', metrics: ['rps', 'inflight'], bootTimeoutMs: 1, stopTimeoutMs: 1, drainTimeoutMs: 1 },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' },
    sampling: { intervalMs: 5000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    onMissing: 'hold',
    unknownGuests: 'retire',
    rules: [],
    schedules: [],
    breaker: { failures: 3, openMs: 60_000 },
    autoHeal: { ...DEFAULT_AUTO_HEAL },
  };
}

const METHODS: Array<[CloneMethod, () => string, (target: string) => string]> = [
  ['reflink', () => lab.baseImage, (t) => `cmp ${t} ${lab.baseImage}`],
  ['copy', () => lab.baseImage, (t) => `cmp ${t} ${lab.baseImage}`],
  ['qcow2', () => lab.baseImage, (t) => `qemu-img info ${t} | grep -q 'backing file: ${lab.baseImage}'`],
  ['lvm-snapshot', () => lab.baseLv, (t) => `lvs --noheadings -o lv_attr ${t} | grep -q '^ *s'`],
];

for (const [method, image, check] of METHODS) {
  test.serial(`clone method ${method} makes the guest's disk with the real tool and deleteClone removes it`, async (t) => {
    const id = `cm-${method.replace(/[^a-z0-9]/g, '')}`;
    const t0 = Date.now();
    const c = await hv.clone({ id, pool: 'cm', policy: policy(method, image()) });
    t.log(`${method}: clone ${((Date.now() - t0) / 1000).toFixed(1)} s -> ${c.meta['disk']}`);
    const disk = c.meta['disk'] ?? '';
    t.is((await lab.ssh(check(disk))).code, 0, `${disk} is a ${method} clone`);
    t.true((await lab.sshOk(`cat ${CFG_DIR}/${id}.cfg`)).includes(`target=${disk}'`));
    const guest: Guest = { id, pool: 'cm', state: 'failed', driver: 'xen', host: 'lab', createdAt: 0, updatedAt: 0, meta: c.meta };
    const t1 = Date.now();
    await hv.deleteClone(guest);
    t.log(`${method}: delete ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    t.not((await lab.ssh(`test -e ${disk}`)).code, 0, 'the clone is gone');
    t.not((await lab.ssh(`test -e ${CFG_DIR}/${id}.cfg`)).code, 0, 'the cfg is gone');
    await hv.deleteClone(guest); // idempotent
  });
}
