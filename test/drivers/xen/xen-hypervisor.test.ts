// XenHypervisor against a real sshd on loopback, with test/drivers/xen/fake-xl.sh standing in
// for xl (no Xen here): proves the SSH plumbing, cfg rendering and writing, real clones with cp,
// IP/MAC allocation, and that every failure path leaves nothing behind. Real Xen: test/xen/.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type CloneMethod, type Policy } from '../../../src/domain/policy.ts';
import type { Guest } from '../../../src/domain/types.ts';
import { clonePlan } from '../../../src/drivers/xen/clone-commands.ts';
import { XenHosts } from '../../../src/drivers/xen/xen-hosts.ts';
import { ipv4ToInt } from '../../../src/drivers/xen/guest-network.ts';
import { XenHypervisor, type XenHypervisorOptions } from '../../../src/drivers/xen/xen-hypervisor.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { startSshd, type SshdFixture } from '../ssh/sshd-fixture.ts';

const FAKE_XL = fileURLToPath(new URL('./fake-xl.sh', import.meta.url));

const TEMPLATE = `# test pool guest
name    = {{name}}
uuid    = {{uuid}}
type    = "pv"
kernel  = "/var/lib/xen/boot/vmlinux"
extra   = "console=hvc0 guestname={{name}} guestip={{ip}}"
memory  = 128
vif     = [ 'bridge=xenbr0,mac={{mac}}' ]
disk    = [ 'format={{format}},vdev=xvda,access=rw,target={{disk}}' ]
`;

interface Env {
  sshd: SshdFixture;
  dir: string;
  state: string;
  images: string;
  cfgDir: string;
  hv: XenHypervisor;
  hosts: XenHosts;
  policy: Policy;
}

const envs: Env[] = [];
test.after.always(async () => {
  for (const e of envs) {
    await e.hv.close();
    await e.sshd.dispose();
    rmSync(e.dir, { recursive: true, force: true });
  }
});

function policy(dir: string, over: Partial<Policy['guest']> = {}): Policy {
  return {
    file: join(dir, 'test.yaml'),
    pool: 'web',
    min: 2,
    max: 8,
    guest: {
      driver: 'xen',
      template: join(dir, 'web.xl.cfg'),
      image: join(dir, 'images', 'base.img'),
      clone: 'copy',
      healthPath: '/healthz',
      metricsPath: '/metrics',
      metrics: ['rps', 'inflight'],
      bootTimeoutMs: 30_000,
      stopTimeoutMs: 2_000,
      drainTimeoutMs: 1_000,
      ...over,
    },
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

async function setup(extraDom0 = false, over: Partial<XenHypervisorOptions> = {}): Promise<Env> {
  const sshd = await startSshd();
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-xen-'));
  const state = join(dir, 'state');
  const images = join(dir, 'images');
  const cfgDir = join(dir, 'cfg');
  mkdirSync(state);
  mkdirSync(images);
  writeFileSync(join(images, 'base.img'), 'base image bytes\n');
  writeFileSync(join(dir, 'web.xl.cfg'), TEMPLATE);
  writeFileSync(join(dir, 'xl'), `#!/bin/sh\nXL_STATE='${state}' exec '${FAKE_XL}' "$@"\n`, { mode: 0o755 });
  const dom0s = [{ name: 'dom0-a', address: '127.0.0.1', port: sshd.port, user: sshd.user, privateKeyPath: sshd.privateKeyPath, hostKeyFingerprint: sshd.hostKeyFingerprint }];
  if (extraDom0) {
    // A dom0 nobody answers for (port 1 is never ours on loopback).
    dom0s.push({ name: 'dom0-dead', address: '127.0.0.1', port: 1, user: sshd.user, privateKeyPath: sshd.privateKeyPath, hostKeyFingerprint: sshd.hostKeyFingerprint });
  }
  const hosts = new XenHosts(dom0s, { ssh: { connectAttempts: 1 } });
  const hv = new XenHypervisor({ hosts, xlPath: join(dir, 'xl'), cfgDir, goneTimeoutMs: 5000, sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))), ...over });
  const env = { sshd, dir, state, images, cfgDir, hv, hosts, policy: policy(dir) };
  envs.push(env);
  return env;
}

function guestOf(id: string, host: string, meta: Record<string, string>): Guest {
  return { id, pool: 'web', state: 'stopping', driver: 'xen', host, createdAt: 0, updatedAt: 0, meta };
}

const domains = (e: Env): string[] => (existsSync(join(e.state, 'domains')) ? readdirSync(join(e.state, 'domains')) : []);
const leftovers = (e: Env): string[] => [...readdirSync(e.images).filter((f) => f !== 'base.img'), ...(existsSync(e.cfgDir) ? readdirSync(e.cfgDir) : []), ...domains(e)];

test('clone, boot, stop and deleteClone run the whole lifecycle and leave nothing behind', async (t) => {
  const e = await setup();
  const spec = { id: 'web-a1', pool: 'web', policy: e.policy };
  const c = await e.hv.clone(spec);
  t.is(c.host, 'dom0-a');
  t.is(c.address, '192.168.100.10:80');
  t.is(readFileSync(join(e.images, 'web-a1.img'), 'utf8'), 'base image bytes\n');
  const cfg = readFileSync(join(e.cfgDir, 'web-a1.cfg'), 'utf8');
  t.true(cfg.includes('name    = "gh-web-a1"'));
  t.true(cfg.includes('guestip=192.168.100.10"'));
  t.true(cfg.includes(`target=${join(e.images, 'web-a1.img')}'`));
  t.true(cfg.includes('# gridhost.pool = web'));
  const b = await e.hv.boot(spec, c.meta);
  t.deepEqual(domains(e), ['gh-web-a1']);
  t.deepEqual(readdirSync(e.cfgDir).filter((f) => f.endsWith('.reserve')), [], 'a created domain leaves no reservation behind');
  t.regex(b.meta['domid'] ?? '', /^\d+$/);
  const g = guestOf('web-a1', 'dom0-a', { ...c.meta, ...b.meta });
  await e.hv.stop(g, 2000);
  t.deepEqual(domains(e), []);
  await e.hv.deleteClone(g);
  t.deepEqual(leftovers(e), []);
  // idempotent
  await e.hv.stop(g, 2000);
  await e.hv.deleteClone(g);
  t.deepEqual(leftovers(e), []);
});

test('concurrent clones on one host get distinct addresses and MACs', async (t) => {
  const e = await setup();
  const ids = ['web-b1', 'web-b2', 'web-b3'];
  const results = await Promise.all(ids.map((id) => e.hv.clone({ id, pool: 'web', policy: e.policy })));
  t.is(new Set(results.map((r) => r.meta['ip'])).size, 3);
  t.is(new Set(results.map((r) => r.meta['mac'])).size, 3);
  for (const [i, id] of ids.entries()) await e.hv.deleteClone(guestOf(id, 'dom0-a', results[i]?.meta ?? {}));
  t.deepEqual(leftovers(e), []);
});

test('xl create runs one at a time per dom0, so parallel boots never contend for the hotplug lock', async (t) => {
  const e = await setup();
  writeFileSync(join(e.state, 'create_slow'), '');
  const ids = ['web-p1', 'web-p2', 'web-p3'];
  const cloned = await Promise.all(ids.map((id) => e.hv.clone({ id, pool: 'web', policy: e.policy })));
  const booted = await Promise.all(ids.map((id, i) => e.hv.boot({ id, pool: 'web', policy: e.policy }, cloned[i]!.meta)));
  t.is(booted.length, 3);
  t.false(existsSync(join(e.state, 'overlaps')), 'no create started while another ran');
  t.deepEqual(domains(e).sort(), ids.map((id) => `gh-${id}`));
  for (const [i, id] of ids.entries()) {
    const g = guestOf(id, 'dom0-a', cloned[i]!.meta);
    await e.hv.stop(g, 2000);
    await e.hv.deleteClone(g);
  }
  t.deepEqual(leftovers(e), []);
});

test('stop waits for an xl create of the guest still running on dom0 (as a crash leaves it), then stops what it made', async (t) => {
  const e = await setup();
  const s = { id: 'web-r1', pool: 'web', policy: e.policy };
  const c = await e.hv.clone(s);
  writeFileSync(join(e.state, 'create_delay'), '1');
  // A create this caller does not wait for, like one a crashed gridhost left running.
  const inflight = e.hv.boot(s, c.meta).then(() => 'booted', (err: Error) => err.message);
  while (!existsSync(join(e.state, 'create_started'))) await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(domains(e), [], 'the domain does not exist yet');
  const g = guestOf('web-r1', 'dom0-a', c.meta);
  await e.hv.stop(g, 2000);
  await inflight;
  t.deepEqual(domains(e), [], 'the domain the create made was stopped, not left behind');
  await e.hv.deleteClone(g);
  t.deepEqual(leftovers(e), []);
});

test('deleteClone of a guest cut short before its host was recorded removes its memory reservation from every dom0 (a crash between placement and the clone leaves only that)', async (t) => {
  const e = await setup();
  mkdirSync(e.cfgDir, { recursive: true });
  writeFileSync(join(e.cfgDir, 'web-r1.reserve'), 'web-r1 web 128\n');
  writeFileSync(join(e.cfgDir, 'web-r2.reserve'), 'web-r2 web 128\n');
  await e.hv.deleteClone({ ...guestOf('web-r1', 'dom0-a', {}), host: undefined } as unknown as Guest);
  t.deepEqual(readdirSync(e.cfgDir).sort(), ['web-r2.reserve'], 'only the cut-short guest\'s reservation is gone');
});

test('deleteClone waits for a clone command still running on the host (as a crash leaves it), so no disk appears after it', async (t) => {
  const e = await setup();
  const c = await e.hv.clone({ id: 'web-q1', pool: 'web', policy: e.policy });
  const disk = c.meta['disk']!;
  rmSync(disk); // as if the crash came before the copy was made...
  // ...by a copy that is still to run: its command line holds the driver's clone command.
  const plan = clonePlan(c.meta['cloneMethod'] as CloneMethod, c.meta['image']!, 'web-q1');
  const orphan = spawn('bash', ['-c', `sleep 1; exec ${plan.create.join(' ')}`], { stdio: 'ignore' });
  const ended = new Promise((r) => orphan.once('exit', r));
  await new Promise((r) => setTimeout(r, 200));
  await e.hv.deleteClone(guestOf('web-q1', 'dom0-a', c.meta));
  await ended;
  t.false(existsSync(disk), 'the late copy was removed, not left behind');
  t.deepEqual(leftovers(e), []);
});

test("a dom0's configured network: bridge, address, prefix, gateway and port reach the config and the guest's address, and a rediscovered guest keeps the port it was cloned with", async (t) => {
  const network = { bridge: 'br-guests', first: ipv4ToInt('10.20.0.1')!, last: ipv4ToInt('10.20.0.3')!, prefixLength: 22, gateway: '10.20.0.1', port: 8080 };
  const e = await setup(false, { networkByHost: { 'dom0-a': network } });
  writeFileSync(join(e.dir, 'web.xl.cfg'), TEMPLATE.replace('guestip={{ip}}"', 'guestip={{ip}}/{{prefix_length}} guestgw={{gateway}} mask={{netmask}}"').replace('bridge=xenbr0', 'bridge={{bridge}}').replace('memory  = 128', 'memory  = {{memory}}'));
  const c = await e.hv.clone({ id: 'web-n1', pool: 'web', policy: e.policy });
  // The gateway is in the range, and is never handed out.
  t.is(c.address, '10.20.0.2:8080');
  const cfg = readFileSync(join(e.cfgDir, 'web-n1.cfg'), 'utf8');
  t.true(cfg.includes('guestip=10.20.0.2/22 guestgw=10.20.0.1 mask=255.255.252.0"'), cfg);
  t.true(cfg.includes("'bridge=br-guests,mac="), cfg);
  t.true(cfg.includes('memory  = 128'), cfg);
  t.true(cfg.includes('# gridhost.port = 8080'), cfg);
  const b = await e.hv.boot({ id: 'web-n1', pool: 'web', policy: e.policy }, c.meta);
  t.is(b.address, '10.20.0.2:8080');
  // A later gridhost configured with another port still finds the guest where it listens.
  const again = new XenHypervisor({ hosts: e.hosts, xlPath: join(e.dir, 'xl'), cfgDir: e.cfgDir, networkByHost: { 'dom0-a': { ...network, port: 9090 } } });
  const found = await again.discover();
  t.deepEqual(found.map((g) => [g.id, g.address]), [['web-n1', '10.20.0.2:8080']]);
  const g = guestOf('web-n1', 'dom0-a', { ...c.meta, ...b.meta });
  await e.hv.stop(g, 2000);
  await e.hv.deleteClone(g);
  t.deepEqual(leftovers(e), []);
});

test("a dom0 whose guest addresses are all taken is GH_OUT_OF_CAPACITY naming the range, and nothing is left", async (t) => {
  const network = { bridge: 'xenbr0', first: ipv4ToInt('10.30.0.5')!, last: ipv4ToInt('10.30.0.5')!, prefixLength: 24, port: 80 };
  const e = await setup(false, { networkByHost: { 'dom0-a': network } });
  const c = await e.hv.clone({ id: 'web-f1', pool: 'web', policy: e.policy });
  t.is(c.address, '10.30.0.5:80');
  const err = await t.throwsAsync(e.hv.clone({ id: 'web-f2', pool: 'web', policy: e.policy }));
  t.is((err as GridhostError).code, 'GH_OUT_OF_CAPACITY');
  t.regex(err!.message, /10\.30\.0\.5-10\.30\.0\.5 is taken/);
  await e.hv.deleteClone(guestOf('web-f1', 'dom0-a', c.meta));
  t.deepEqual(leftovers(e), []);
});

test('a dom0 that answers SSH but whose xl info times out is not called "down": the clone error says what timed out', async (t) => {
  const e = await setup(false, { commandTimeoutMs: 300 });
  writeFileSync(join(e.state, 'info_delay'), '2');
  const err = await t.throwsAsync(e.hv.clone({ id: 'web-slow', pool: 'web', policy: e.policy }));
  t.is((err as GridhostError).code, 'GH_HOST_UNREACHABLE');
  t.regex(err!.message, /^no dom0 answers: dom0-a: `\S+ info` did not finish within 300 ms$/);
  t.notRegex(err!.message, /dom0-a: down/);
  t.deepEqual(leftovers(e), []);
});

test('a clone whose target already holds a complete copy of the base (the same command run twice) succeeds; any other file there is refused and kept', async (t) => {
  const e = await setup();
  const first = await e.hv.clone({ id: 'web-twice', pool: 'web', policy: e.policy });
  const again = await e.hv.clone({ id: 'web-twice', pool: 'web', policy: e.policy });
  t.is(again.meta['disk'], first.meta['disk']);
  t.is(readFileSync(first.meta['disk']!, 'utf8'), 'base image bytes\n');
  writeFileSync(join(e.images, 'web-other.img'), 'a disk gridhost did not make\n');
  const err = await t.throwsAsync(e.hv.clone({ id: 'web-other', pool: 'web', policy: e.policy }));
  t.is((err as GridhostError).code, 'GH_CLONE_FAILED');
  t.regex(err!.message, /already exists/);
  t.is(readFileSync(join(e.images, 'web-other.img'), 'utf8'), 'a disk gridhost did not make\n', 'the existing file is kept');
});

test('a guest needing more memory than any host has is GH_OUT_OF_CAPACITY before anything is made', async (t) => {
  const e = await setup();
  writeFileSync(join(e.dir, 'big.xl.cfg'), TEMPLATE.replace('memory  = 128', 'memory  = 4096'));
  const p = policy(e.dir, { template: join(e.dir, 'big.xl.cfg') });
  const err = await t.throwsAsync(e.hv.clone({ id: 'web-c1', pool: 'web', policy: p }), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_OUT_OF_CAPACITY');
  t.deepEqual(leftovers(e), []);
});

test('xl create out of memory is GH_OUT_OF_CAPACITY and leaves no domain', async (t) => {
  const e = await setup();
  const spec = { id: 'web-d1', pool: 'web', policy: e.policy };
  const c = await e.hv.clone(spec);
  writeFileSync(join(e.state, 'free_memory'), '64'); // someone else took the memory meanwhile
  const err = await t.throwsAsync(e.hv.boot(spec, c.meta), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_OUT_OF_CAPACITY');
  t.true(err?.message.includes('Out of memory'));
  t.deepEqual(domains(e), []);
  await e.hv.deleteClone(guestOf('web-d1', 'dom0-a', c.meta));
  t.deepEqual(leftovers(e), []);
});

test('a hotplug failure is GH_BOOT_FAILED and the half-made domain is destroyed', async (t) => {
  const e = await setup();
  const spec = { id: 'web-e1', pool: 'web', policy: e.policy };
  const c = await e.hv.clone(spec);
  writeFileSync(join(e.state, 'create_fails_hotplug'), '');
  const err = await t.throwsAsync(e.hv.boot(spec, c.meta), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_BOOT_FAILED');
  t.deepEqual(domains(e), []);
});

test('a name already in use is GH_NAME_IN_USE and the existing domain is left alone', async (t) => {
  const e = await setup();
  const spec = { id: 'web-f1', pool: 'web', policy: e.policy };
  const c = await e.hv.clone(spec);
  mkdirSync(join(e.state, 'domains'), { recursive: true });
  writeFileSync(join(e.state, 'domains', 'gh-web-f1'), '99 128 u 00:16:3e:00:00:01 /x extra\n');
  const err = await t.throwsAsync(e.hv.boot(spec, c.meta), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_NAME_IN_USE');
  t.deepEqual(domains(e), ['gh-web-f1']);
});

test('a missing base image is GH_CLONE_FAILED and the rendered config is removed', async (t) => {
  const e = await setup();
  const p = policy(e.dir, { image: join(e.images, 'nope.img') });
  const err = await t.throwsAsync(e.hv.clone({ id: 'web-g1', pool: 'web', policy: p }), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_CLONE_FAILED');
  t.deepEqual(leftovers(e), []);
});

test('a template with an unknown placeholder is GH_TEMPLATE_INVALID and nothing reaches the host', async (t) => {
  const e = await setup();
  writeFileSync(join(e.dir, 'bad.xl.cfg'), `${TEMPLATE}vcpus = {{cpus}}\n`);
  const err = await t.throwsAsync(e.hv.clone({ id: 'web-h1', pool: 'web', policy: policy(e.dir, { template: join(e.dir, 'bad.xl.cfg') }) }), {
    instanceOf: GridhostError,
  });
  t.is(err?.code, 'GH_TEMPLATE_INVALID');
  t.deepEqual(leftovers(e), []);
  t.is(e.hosts.counters().commands, 0);
});

test('a guest that ignores xl shutdown is destroyed after the timeout', async (t) => {
  const e = await setup();
  const spec = { id: 'web-i1', pool: 'web', policy: e.policy };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  writeFileSync(join(e.state, 'shutdown_hangs'), '');
  await e.hv.stop(guestOf('web-i1', 'dom0-a', { ...c.meta, ...b.meta }), 1000);
  t.deepEqual(domains(e), []);
});

test('discover finds running guests and leftover clones, and skips a dead dom0', async (t) => {
  const e = await setup(true);
  const s1 = { id: 'web-j1', pool: 'web', policy: e.policy };
  const c1 = await e.hv.clone(s1);
  t.is(c1.host, 'dom0-a', 'the dead dom0 is skipped in placement');
  t.false(e.hosts.isUp('dom0-dead'));
  await e.hv.boot(s1, c1.meta);
  await e.hv.clone({ id: 'web-j2', pool: 'web', policy: e.policy });
  const found = await e.hv.discover();
  const byId = new Map(found.map((g) => [g.id, g]));
  t.deepEqual([...byId.keys()].sort(), ['web-j1', 'web-j2']);
  t.like(byId.get('web-j1'), { pool: 'web', host: 'dom0-a', running: true, address: c1.address });
  t.is(byId.get('web-j1')?.meta['disk'], join(e.images, 'web-j1.img'));
  t.like(byId.get('web-j2'), { pool: 'web', host: 'dom0-a', running: false });
  for (const g of found) {
    const guest = guestOf(g.id, g.host, g.meta);
    await e.hv.stop(guest, 1000);
    await e.hv.deleteClone(guest);
  }
  t.deepEqual(leftovers(e), []);
});

test('gone names the guests whose domain xl list no longer shows, and skips a dom0 that does not answer', async (t) => {
  const e = await setup(true);
  const s1 = { id: 'web-g1', pool: 'web', policy: e.policy };
  const s2 = { id: 'web-g2', pool: 'web', policy: e.policy };
  const c1 = await e.hv.clone(s1);
  const b1 = await e.hv.boot(s1, c1.meta);
  const c2 = await e.hv.clone(s2);
  const b2 = await e.hv.boot(s2, c2.meta);
  const g1 = { ...guestOf('web-g1', 'dom0-a', { ...c1.meta, ...b1.meta }), state: 'healthy' as const };
  const g2 = { ...guestOf('web-g2', 'dom0-a', { ...c2.meta, ...b2.meta }), state: 'healthy' as const };
  const far = { ...guestOf('web-g3', 'dom0-dead', {}), state: 'healthy' as const };
  t.deepEqual([...(await e.hv.gone([g1, g2, far]))], [], 'both run; the dead dom0 tells nothing');
  rmSync(join(e.state, 'domains', 'gh-web-g2')); // destroyed behind gridhost's back
  t.deepEqual([...(await e.hv.gone([g1, g2, far]))], ['web-g2']);
  for (const g of [g1, g2]) {
    await e.hv.stop(g, 1000);
    await e.hv.deleteClone(g);
  }
  t.deepEqual(leftovers(e), []);
});

test('placement spreads a pool: the host counts its guests of the pool and reserved clones', async (t) => {
  const e = await setup();
  // One host only: every clone lands there, but memory reservations stop over-commit.
  writeFileSync(join(e.state, 'free_memory'), '300'); // room for two 128 MiB guests
  const r = await Promise.allSettled(['web-k1', 'web-k2', 'web-k3'].map((id) => e.hv.clone({ id, pool: 'web', policy: e.policy })));
  t.is(r.filter((x) => x.status === 'fulfilled').length, 2);
  const failed = r.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  t.is((failed?.reason as GridhostError).code, 'GH_OUT_OF_CAPACITY');
});

test('two gridhost processes placing on one dom0 count each other\'s reservations (between placement and xl create), and a stale one expires', async (t) => {
  const e = await setup();
  // A second process: its own hosts and driver, the same dom0, xl and config folder.
  const dom0 = { name: 'dom0-a', address: '127.0.0.1', port: e.sshd.port, user: e.sshd.user, privateKeyPath: e.sshd.privateKeyPath, hostKeyFingerprint: e.sshd.hostKeyFingerprint };
  const other = new XenHypervisor({ hosts: new XenHosts([dom0], { ssh: { connectAttempts: 1 } }), xlPath: join(e.dir, 'xl'), cfgDir: e.cfgDir, goneTimeoutMs: 5000, sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))) });
  t.teardown(() => other.close());
  writeFileSync(join(e.state, 'free_memory'), '300'); // room for two 128 MiB guests
  const spec = (hv: XenHypervisor, id: string) => hv.clone({ id, pool: 'web', policy: e.policy });
  const first = await spec(e.hv, 'web-m1'); // placed and cloned, not created: only a reservation
  t.true(readdirSync(e.cfgDir).includes('web-m1.reserve'));
  const second = await spec(other, 'web-m2');
  const err = await t.throwsAsync(spec(other, 'web-m3'));
  t.is((err as GridhostError).code, 'GH_OUT_OF_CAPACITY', 'the other process saw web-m1 reserved: 300 - 2 x 128 leaves 44 MiB');
  t.regex((err as GridhostError).message, /44 MiB free/);

  // Its clone deleted, web-m1's reservation is gone: the other process may place again.
  await e.hv.deleteClone(guestOf('web-m1', 'dom0-a', first.meta));
  t.false(readdirSync(e.cfgDir).includes('web-m1.reserve'));
  const third = await spec(other, 'web-m3');

  // A reservation older than a clone and a create may take (a crashed placement) no longer counts.
  await other.deleteClone(guestOf('web-m3', 'dom0-a', third.meta));
  writeFileSync(join(e.cfgDir, 'web-m9.reserve'), 'web-m9 web 256\n');
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(join(e.cfgDir, 'web-m9.reserve'), old, old);
  const fourth = await spec(e.hv, 'web-m4');
  for (const [hv, id, c] of [[other, 'web-m2', second], [e.hv, 'web-m4', fourth]] as const) await hv.deleteClone(guestOf(id, 'dom0-a', c.meta));
  rmSync(join(e.cfgDir, 'web-m9.reserve'));
  t.deepEqual(leftovers(e), []);
});

test('a clone records the digests of its template and of the base image on its dom0, and sourceDigest sees a new image or an edited template', async (t) => {
  const e = await setup();
  const c = await e.hv.clone({ id: 'web-r1', pool: 'web', policy: e.policy });
  t.regex(c.meta['templateDigest'] ?? '', /^sha256:[0-9a-f]{64}$/);
  t.regex(c.meta['imageDigest'] ?? '', /^stat:\d+:\d+:\d+$/);
  t.deepEqual(await e.hv.sourceDigest(e.policy, 'dom0-a'), { template: c.meta['templateDigest'], image: c.meta['imageDigest'] });
  t.false(readFileSync(join(e.cfgDir, 'web-r1.cfg'), 'utf8').includes('Digest'), 'the digests stay out of the cfg header');
  // A new base image moved into place (a new inode), and an edited template.
  writeFileSync(join(e.images, 'base.img.new'), 'new base image bytes\n');
  renameSync(join(e.images, 'base.img.new'), join(e.images, 'base.img'));
  const afterImage = await e.hv.sourceDigest(e.policy, 'dom0-a');
  t.is(afterImage.template, c.meta['templateDigest']!);
  t.not(afterImage.image, c.meta['imageDigest']);
  writeFileSync(join(e.dir, 'web.xl.cfg'), `${TEMPLATE}# edited\n`);
  t.not((await e.hv.sourceDigest(e.policy, 'dom0-a')).template, c.meta['templateDigest']);
  await e.hv.deleteClone(guestOf('web-r1', 'dom0-a', c.meta));
});

test('sourceDigest of a base image missing on dom0 is GH_TEMPLATE_INVALID', async (t) => {
  const e = await setup();
  const err = await t.throwsAsync(e.hv.sourceDigest(policy(e.dir, { image: join(e.images, 'nope.img') }), 'dom0-a'), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_TEMPLATE_INVALID');
});

// ---- the warm pool's pause and unpause (xl pause / xl unpause)

test('pause and unpause run xl pause and xl unpause on the guest\'s domain over SSH and say so in the meta', async (t) => {
  const e = await setup();
  const spec = { id: 'web-w1', pool: 'web', policy: e.policy };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  const g = guestOf('web-w1', 'dom0-a', { ...c.meta, ...b.meta });
  t.deepEqual((await e.hv.pause(g)).meta, { paused: '1' });
  t.true(existsSync(join(e.state, 'paused', 'gh-web-w1')), 'the domain is paused');
  t.deepEqual((await e.hv.unpause(g)).meta, { paused: '0' });
  t.false(existsSync(join(e.state, 'paused', 'gh-web-w1')), 'and runs again');
  const calls = readFileSync(join(e.state, 'argv'), 'utf8').split('\n');
  t.true(calls.includes('pause gh-web-w1'));
  t.true(calls.includes('unpause gh-web-w1'));
  // A paused domain is still a domain: discovery lists it as running (a restart adopts it).
  await e.hv.pause(g);
  t.true((await e.hv.discover()).find((x) => x.id === 'web-w1')?.running);
  await e.hv.unpause(g);
  await e.hv.stop(g, 2000);
  await e.hv.deleteClone(g);
  t.deepEqual(leftovers(e), []);
});

test('unpausing a domain that is not paused is success; unpausing or pausing a domain that is gone is GH_BOOT_FAILED', async (t) => {
  const e = await setup();
  const spec = { id: 'web-w2', pool: 'web', policy: e.policy };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  const g = guestOf('web-w2', 'dom0-a', { ...c.meta, ...b.meta });
  t.deepEqual((await e.hv.unpause(g)).meta, { paused: '0' }, 'xl unpause failed, xl list shows it running');
  await e.hv.stop(g, 2000);
  for (const step of [() => e.hv.unpause(g), () => e.hv.pause(g)]) {
    const err = await t.throwsAsync(step());
    t.true(err instanceof GridhostError);
    t.is((err as GridhostError).code, 'GH_BOOT_FAILED');
  }
  await e.hv.deleteClone(g);
  t.deepEqual(leftovers(e), []);
});

test('a paused guest is destroyed at once at stop (it cannot act on a shutdown), not after the stop timeout', async (t) => {
  const e = await setup();
  const spec = { id: 'web-w3', pool: 'web', policy: e.policy };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  const g = guestOf('web-w3', 'dom0-a', { ...c.meta, ...b.meta });
  const paused = { ...g, meta: { ...g.meta, ...(await e.hv.pause(g)).meta } };
  const t0 = Date.now();
  await e.hv.stop(paused, 20_000);
  t.true(Date.now() - t0 < 10_000, `stopped in ${Date.now() - t0} ms`);
  t.deepEqual(domains(e), []);
  const calls = readFileSync(join(e.state, 'argv'), 'utf8').split('\n');
  t.true(calls.includes('destroy gh-web-w3'));
  t.false(calls.includes('shutdown gh-web-w3'), 'no shutdown request to a guest that cannot answer it');
  await e.hv.deleteClone(paused);
  t.deepEqual(leftovers(e), []);
});

test('pause on a guest with no dom0 recorded is GH_BOOT_FAILED and runs nothing', async (t) => {
  const e = await setup();
  const err = await t.throwsAsync(e.hv.pause(guestOf('web-w4', '', {})));
  t.is((err as GridhostError).code, 'GH_BOOT_FAILED');
  t.false(existsSync(join(e.state, 'argv')) && readFileSync(join(e.state, 'argv'), 'utf8').includes('pause'));
});

test('a deposed leader is fenced on dom0: its stop, deleteClone and clone are refused with GH_FENCED and change nothing there', async (t) => {
  const e = await setup();
  const newer = { pool: 'web', token: 2, holder: 'proc-b', acquiredAt: 2_000 };
  const older = { pool: 'web', token: 1, holder: 'proc-a', acquiredAt: 1_000 };
  const spec = { id: 'web-f1', pool: 'web', policy: e.policy, fence: newer };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  const g = guestOf('web-f1', 'dom0-a', { ...c.meta, ...b.meta });
  const before = leftovers(e).filter((f) => f !== '.fence').sort();
  t.deepEqual(before, ['gh-web-f1', 'web-f1.cfg', 'web-f1.img']);

  const fenced = { instanceOf: GridhostError, code: 'GH_FENCED', message: /newer lease \(token 2 taken at 2000 by proc-b\)/ } as const;
  await t.throwsAsync(e.hv.stop(g, 2000, older), fenced);
  await t.throwsAsync(e.hv.deleteClone(g, older), fenced);
  await t.throwsAsync(e.hv.clone({ id: 'web-f2', pool: 'web', policy: e.policy, fence: older }), fenced);
  t.deepEqual(leftovers(e).filter((f) => f !== '.fence').sort(), before, 'the deposed leader changed nothing on dom0');

  await e.hv.stop(g, 2000, newer);
  await e.hv.deleteClone(g, newer);
  t.deepEqual(leftovers(e), ['.fence'], 'the current leader removed its guest; only the fence is kept');
});
