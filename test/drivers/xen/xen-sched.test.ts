// The pool's credit weight and cap (policy guest.credit) and the template's pinning (cpus =)
// through the real Xen driver: a real sshd on loopback, test/drivers/xen/fake-xl.sh for xl,
// asserting the exact xl argv that reached dom0.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type CreditSettings, type Policy } from '../../../src/domain/policy.ts';
import type { Guest } from '../../../src/domain/types.ts';
import { XenHosts } from '../../../src/drivers/xen/xen-hosts.ts';
import { XenHypervisor } from '../../../src/drivers/xen/xen-hypervisor.ts';
import { cfgCpus, creditArgv } from '../../../src/drivers/xen/xen-sched.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { startSshd } from '../ssh/sshd-fixture.ts';

const FAKE_XL = fileURLToPath(new URL('./fake-xl.sh', import.meta.url));
const template = (cpus = '') => `name = {{name}}\nuuid = {{uuid}}\ntype = "pv"\nkernel = "/k"\nmemory = 128\n${cpus}vif = [ 'bridge=xenbr0,mac={{mac}}' ]\ndisk = [ 'format={{format}},vdev=xvda,access=rw,target={{disk}}' ]\n`;

const cleanups: (() => Promise<void>)[] = [];
test.after.always(async () => {
  for (const c of cleanups) await c();
});

async function setup(tpl = template()) {
  const sshd = await startSshd();
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-xen-sched-'));
  const state = join(dir, 'state');
  mkdirSync(state);
  mkdirSync(join(dir, 'images'));
  writeFileSync(join(dir, 'images', 'base.img'), 'base\n');
  writeFileSync(join(dir, 'web.xl.cfg'), tpl);
  writeFileSync(join(dir, 'xl'), `#!/bin/sh\nXL_STATE='${state}' exec '${FAKE_XL}' "$@"\n`, { mode: 0o755 });
  const newHv = () => new XenHypervisor({ hosts: new XenHosts([{ name: 'dom0-a', address: '127.0.0.1', port: sshd.port, user: sshd.user, privateKeyPath: sshd.privateKeyPath, hostKeyFingerprint: sshd.hostKeyFingerprint }], { ssh: { connectAttempts: 1 } }), xlPath: join(dir, 'xl'), cfgDir: join(dir, 'cfg'), goneTimeoutMs: 5000, sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))) });
  const hvs = [newHv()];
  cleanups.push(async () => {
    for (const hv of hvs) await hv.close();
    await sshd.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const policy = (credit?: CreditSettings): Policy => ({
    file: join(dir, 'web.yaml'), pool: 'web', min: 2, max: 8,
    guest: { driver: 'xen', template: join(dir, 'web.xl.cfg'), image: join(dir, 'images', 'base.img'), clone: 'copy', healthPath: '/healthz', metricsPath: '/metrics', metrics: [], bootTimeoutMs: 30_000, stopTimeoutMs: 2_000, drainTimeoutMs: 1_000, ...(credit ? { credit } : {}) },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' },
    sampling: { intervalMs: 5000, windowMs: 60_000 }, warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' }, scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    onMissing: 'hold', unknownGuests: 'retire', rules: [], schedules: [], breaker: { failures: 3, openMs: 60_000 }, autoHeal: { ...DEFAULT_AUTO_HEAL },
  });
  const argv = () => (existsSync(join(state, 'argv')) ? readFileSync(join(state, 'argv'), 'utf8').trim().split('\n') : []);
  const sched = (dom: string) => readFileSync(join(state, 'sched', dom), 'utf8').trim();
  const domains = () => (existsSync(join(state, 'domains')) ? readdirSync(join(state, 'domains')) : []);
  return { dir, state, hv: hvs[0]!, restarted: () => { const h = newHv(); hvs.push(h); return h; }, policy, argv, sched, domains };
}

const guestOf = (id: string, meta: Record<string, string>): Guest => ({ id, pool: 'web', state: 'healthy', driver: 'xen', host: 'dom0-a', createdAt: 0, updatedAt: 0, meta });

test('boot sets the pool\'s weight and cap with xl sched-credit2 on a credit2 dom0, and records them', async (t) => {
  const e = await setup();
  const spec = { id: 'web-s1', pool: 'web', policy: e.policy({ weight: 512, cap: 50 }) };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  t.true(e.argv().includes('sched-credit2 -d gh-web-s1 -w 512 -c 50'), e.argv().join('\n'));
  t.is(e.argv().filter((a) => a.startsWith('sched-')).length, 1);
  t.is(e.sched('gh-web-s1'), '512 50');
  t.like(b.meta, { scheduler: 'credit2', creditWeight: '512', creditCap: '50' });
});

test('on a credit dom0 it is xl sched-credit, with only what the policy sets', async (t) => {
  const e = await setup();
  writeFileSync(join(e.state, 'xen_scheduler'), 'credit');
  const spec = { id: 'web-s2', pool: 'web', policy: e.policy({ weight: 64 }) };
  await e.hv.boot(spec, (await e.hv.clone(spec)).meta);
  t.deepEqual(e.argv().filter((a) => a.startsWith('sched-')), ['sched-credit -d gh-web-s2 -w 64']);
  t.is(e.sched('gh-web-s2'), '64 0');
});

test('without guest.credit no scheduler command is sent', async (t) => {
  const e = await setup();
  const spec = { id: 'web-s3', pool: 'web', policy: e.policy() };
  const b = await e.hv.boot(spec, (await e.hv.clone(spec)).meta);
  t.deepEqual(e.argv().filter((a) => a.startsWith('sched-')), []);
  t.is(b.meta['scheduler'], undefined);
});

test('a dom0 whose scheduler has no credit parameters fails the boot with GH_SCHED_FAILED; stop and deleteClone leave nothing', async (t) => {
  const e = await setup();
  writeFileSync(join(e.state, 'xen_scheduler'), 'rtds');
  const spec = { id: 'web-s4', pool: 'web', policy: e.policy({ weight: 512 }) };
  const c = await e.hv.clone(spec);
  const err = await t.throwsAsync(e.hv.boot(spec, c.meta), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_SCHED_FAILED');
  t.regex(err!.message, /rtds scheduler/);
  // The controller cleans up a failed boot with the clone's meta, as for any boot failure.
  await e.hv.stop(guestOf('web-s4', c.meta), 2000);
  await e.hv.deleteClone(guestOf('web-s4', c.meta));
  t.deepEqual(e.domains(), []);
});

test('xl refusing the parameters fails the boot with GH_SCHED_FAILED and xl\'s own words', async (t) => {
  const e = await setup();
  writeFileSync(join(e.state, 'sched_fails'), '');
  const spec = { id: 'web-s5', pool: 'web', policy: e.policy({ cap: 50 }) };
  const err = await t.throwsAsync(e.hv.boot(spec, (await e.hv.clone(spec)).meta), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_SCHED_FAILED');
  t.regex(err!.message, /setting domain sched credit2: Invalid argument/);
});

test('after a restart reapply sets the policy\'s weight and cap again on the running domain', async (t) => {
  const e = await setup();
  const spec = { id: 'web-s6', pool: 'web', policy: e.policy({ weight: 512, cap: 50 }) };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  // Someone (or a policy edit) changed it meanwhile; a new gridhost process takes the guest up.
  writeFileSync(join(e.state, 'sched', 'gh-web-s6'), '256 0');
  const applied = await e.restarted().reapply(guestOf('web-s6', { ...c.meta, ...b.meta }), e.policy({ weight: 1024, cap: 25 }));
  t.is(e.sched('gh-web-s6'), '1024 25');
  t.deepEqual(e.argv().filter((a) => a.startsWith('sched-')), ['sched-credit2 -d gh-web-s6 -w 512 -c 50', 'sched-credit2 -d gh-web-s6 -w 1024 -c 25']);
  t.like(applied, { scheduler: 'credit2', creditWeight: '1024', creditCap: '25' });
});

test('a template\'s cpus = pinning reaches the rendered config as written and the guest\'s meta', async (t) => {
  const e = await setup(template('cpus = "0-1"\n'));
  const c = await e.hv.clone({ id: 'web-c1', pool: 'web', policy: e.policy() });
  t.true(readFileSync(join(e.dir, 'cfg', 'web-c1.cfg'), 'utf8').includes('cpus = "0-1"\n'));
  t.is(c.meta['cpus'], '0-1');
});

test('a template\'s cpus = that xl would not read is GH_TEMPLATE_INVALID before anything is cloned', async (t) => {
  const e = await setup(template('cpus = "0-1; reboot"\n'));
  const err = await t.throwsAsync(e.hv.clone({ id: 'web-c2', pool: 'web', policy: e.policy() }), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_TEMPLATE_INVALID');
  t.deepEqual(readdirSync(join(e.dir, 'images')), ['base.img']);
  t.false(existsSync(join(e.dir, 'cfg', 'web-c2.cfg')));
});

const cpusCases: [string, string, string | undefined][] = [
  ['no cpus line: no pinning', 'memory = 128\n', undefined],
  ['one CPU', 'cpus = "2"\n', '2'],
  ['a range and a list', 'cpus = "0-3,6"\n', '0-3,6'],
  ['all but one', 'cpus = "all,^1"\n', 'all,^1'],
  ['a NUMA node', 'cpus = "nodes:0"\n', 'nodes:0'],
  ['one list per vCPU', 'cpus = ["2", "3"]\n', '2 3'],
  ['the last of repeated lines, as xl reads it', 'cpus = "1"\ncpus = "2-3" # pinned\n', '2-3'],
];
for (const [title, cfg, want] of cpusCases) test(`cfgCpus: ${title}`, (t) => t.is(cfgCpus(cfg), want));
for (const bad of ['cpus = 2\n', 'cpus = "two"\n', 'cpus = "0-1`id`"\n', 'cpus = []\n', 'cpus = "0-1" "2"\n']) {
  test(`cfgCpus refuses ${JSON.stringify(bad.trim())}`, (t) => {
    t.is(t.throws(() => cfgCpus(bad), { instanceOf: GridhostError })?.code, 'GH_TEMPLATE_INVALID');
  });
}

test('creditArgv is an argv array of validated parts, never a shell line', (t) => {
  t.deepEqual(creditArgv('/usr/lib/xen-4.17/bin/xl', 'credit2', 'gh-web-a1', { weight: 512, cap: 0 }), ['/usr/lib/xen-4.17/bin/xl', 'sched-credit2', '-d', 'gh-web-a1', '-w', '512', '-c', '0']);
  t.is(t.throws(() => creditArgv('/xl', 'credit2', 'gh-web;reboot', { weight: 1 }), { instanceOf: GridhostError })?.code, 'GH_UNSAFE_ARGUMENT');
  t.is(t.throws(() => creditArgv('/xl', 'null', 'gh-web-a1', { weight: 1 }), { instanceOf: GridhostError })?.code, 'GH_SCHED_FAILED');
});
