// Vertical first on the real Xen lab (written for the lead's lab runs:
// npx ava --config ava-xen.config.js test/xen/vertical-xen.test.ts). A guest of a template with
// vcpus = 1, maxvcpus = 2, memory = 128, maxmem = 160: its record says so after clone; resize()
// runs `xl vcpu-set` and `xl mem-set` on dom0 and the guest then runs vCPU 1 (xl vcpu-list) and
// has the memory (xl list); a step above maxvcpus is GH_RESIZE_FAILED and changes nothing; the
// step down returns it to 1 vCPU. The time from resize() to the vCPU online in the guest is
// measured against the same guest's clone-to-serving, and must be shorter.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type Policy } from '../../src/domain/policy.ts';
import { createXenDrivers, type XenDrivers } from '../../src/drivers/xen/create-xen-drivers.ts';
import { GridhostError } from '../../src/errors/errors.ts';
import { vcpuOnline, verticalRuns } from '../../scripts/bench/xen-vertical-bench.ts';
import { gridhostLeftovers, startLab, type Lab } from './lab.ts';

let lab: Lab;
let dir: string;
let d: XenDrivers;
const CFG_DIR = '/etc/xen/gridhost';
const HOST = 'lab';

test.before(async () => {
  lab = await startLab();
  dir = mkdtempSync(join(tmpdir(), 'gridhost-xen-vertical-'));
  writeFileSync(join(dir, 'web.xl.cfg'), [
    '# gridhost test pool: PV guest of the Xen lab, room for one vertical step',
    'name     = {{name}}',
    'uuid     = {{uuid}}',
    'type     = "pv"',
    `kernel   = "${lab.guestKernel}"`,
    `ramdisk  = "${lab.guestRamdisk}"`,
    'extra    = "console=hvc0 quiet guestname={{name}} guestip={{ip}}"',
    'memory   = 128',
    'maxmem   = 160',
    'vcpus    = 1',
    'maxvcpus = 2',
    `vif      = [ 'bridge=${lab.bridge},mac={{mac}}' ]`,
    "disk     = [ 'format={{format}},vdev=xvda,access=rw,target={{disk}}' ]",
    'on_poweroff = "destroy"',
    'on_crash    = "destroy"',
    '',
  ].join('\n'));
  d = createXenDrivers(
    [{ name: HOST, address: lab.host, port: lab.port, user: lab.username, privateKeyPath: lab.privateKeyPath, hostKeyFingerprint: lab.fingerprint }],
    { hypervisor: { cfgDir: CFG_DIR, createTimeoutMs: 600_000, goneTimeoutMs: 120_000, commandTimeoutMs: 120_000 } },
  );
});

test.after.always(async () => {
  await d?.close().catch(() => undefined);
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function policy(): Policy {
  const template = join(dir, 'web.xl.cfg');
  return {
    file: join(dir, 'xen.yaml'), pool: 'xvert', min: 2, max: 8,
    guest: { driver: 'xen', template, image: lab.baseImage, clone: 'copy', healthPath: '/healthz', metricsPath: '/metrics', metrics: [], bootTimeoutMs: 600_000, stopTimeoutMs: 60_000, drainTimeoutMs: 1_000, vertical: { vcpuStep: 1, memoryStepMb: 32 } },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' },
    sampling: { intervalMs: 5000, windowMs: 60_000 }, warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' }, scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    onMissing: 'hold', unknownGuests: 'retire', rules: [], schedules: [], breaker: { failures: 3, openMs: 60_000 }, autoHeal: { ...DEFAULT_AUTO_HEAL },
  };
}

test.serial('a vertical step shows in the guest (vCPU online, memory set) sooner than a new guest serves', async (t) => {
  t.deepEqual(await gridhostLeftovers(lab, CFG_DIR), []);
  const runs = await verticalRuns({ drivers: d, host: HOST, pool: 'xvert', policy, image: lab.baseImage, clone: 'copy', log: (l) => t.log(l) }, 2);
  for (const r of runs) {
    t.like(r.meta, { maxvcpus: '2', base_vcpus: '1', maxmem_mb: '160', base_memory_mb: '128' });
    t.true(vcpuOnline(r.vcpuList, r.meta['domain']!, 1), r.vcpuList);
    t.true(r.vcpuOnlineMs < r.coldMs, `vertical ${(r.vcpuOnlineMs / 1000).toFixed(2)} s against cold ${(r.coldMs / 1000).toFixed(2)} s`);
  }
  t.deepEqual(await gridhostLeftovers(lab, CFG_DIR), []);
});

test.serial('xl refuses a step above maxvcpus: GH_RESIZE_FAILED, the guest keeps running at its size', async (t) => {
  const spec = { id: 'xvert-r1', pool: 'xvert', policy: policy() };
  const c = await d.hypervisor.clone(spec);
  const g = { id: spec.id, pool: 'xvert', state: 'healthy' as const, driver: 'xen', host: HOST, address: c.address ?? '', createdAt: 0, updatedAt: 0, meta: { ...c.meta } };
  try {
    Object.assign(g.meta, (await d.hypervisor.boot(spec, g.meta)).meta);
    const domain = g.meta['domain']!;
    await t.throwsAsync(d.hypervisor.resize(g, { vcpus: 3, memoryMb: 128 }), { instanceOf: GridhostError, code: 'GH_RESIZE_FAILED' });
    const list = await lab.sshOk(`xl vcpu-list ${domain}`);
    t.false(vcpuOnline(list, domain, 1), list);
    // The memory step alone: xl list shows the domain's MiB.
    t.deepEqual((await d.hypervisor.resize(g, { vcpus: 1, memoryMb: 160 })).meta, { memory_mb: '160' });
    // The guest's balloon driver takes the new target once its kernel runs (boot() returns at
    // xl create, before the guest is up): xl list shows the MiB the domain has now.
    const memNow = async () => Number((await lab.sshOk(`xl list ${domain}`)).split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0] === domain)?.[2]);
    const t0 = Date.now();
    let mem = await memNow();
    while ((mem < 155 || mem > 160) && Date.now() - t0 < 120_000) {
      await new Promise((r) => setTimeout(r, 1000));
      mem = await memNow();
    }
    t.log(`xl list: ${mem} MiB ${((Date.now() - t0) / 1000).toFixed(1)} s after xl mem-set 160m`);
    t.true(mem >= 155 && mem <= 160, `xl list says ${mem} MiB`);
  } finally {
    await d.hypervisor.stop(g, 60_000);
    await d.hypervisor.deleteClone(g);
  }
  t.deepEqual(await gridhostLeftovers(lab, CFG_DIR), []);
});
