// Contention-aware placement and host facts (policy contention) through the real Xen driver:
// two dom0s, each a real sshd on loopback with its own test/drivers/xen/fake-xl.sh state (the
// xl and xentop wrappers pick it by the port the session came in on), whose xentop CPU% and
// xl info nr_cpus the test sets.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type Policy } from '../../../src/domain/policy.ts';
import { XenHosts } from '../../../src/drivers/xen/xen-hosts.ts';
import { XenHypervisor } from '../../../src/drivers/xen/xen-hypervisor.ts';
import { startSshd, type SshdFixture } from '../ssh/sshd-fixture.ts';

const FAKE_XL = fileURLToPath(new URL('./fake-xl.sh', import.meta.url));
const TEMPLATE = 'name = {{name}}\nuuid = {{uuid}}\ntype = "pv"\nkernel = "/k"\nmemory = 128\nvif = [ \'bridge=xenbr0,mac={{mac}}\' ]\ndisk = [ \'format={{format}},vdev=xvda,access=rw,target={{disk}}\' ]\n';

interface TwoDom0s {
  hv: XenHypervisor;
  /** Each dom0's fake-xl state folder, by dom0 name. */
  state: Record<string, string>;
  policy: (contention?: number) => Policy;
}

const cleanups: (() => Promise<void>)[] = [];
test.after.always(async () => {
  for (const c of cleanups) await c();
});

async function twoDom0s(): Promise<TwoDom0s> {
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-xen-contention-'));
  const sshds: SshdFixture[] = [await startSshd(), await startSshd()];
  const state: Record<string, string> = {};
  const names = ['dom0-a', 'dom0-b'];
  for (const [i, s] of sshds.entries()) {
    state[names[i]!] = join(dir, `state-${s.port}`);
    mkdirSync(join(state[names[i]!]!, 'cpu'), { recursive: true });
  }
  // $SSH_CONNECTION is "client-ip client-port server-ip server-port": the dom0 this session reached.
  const pick = `XL_STATE='${dir}'/state-$(echo "$SSH_CONNECTION" | cut -d' ' -f4)`;
  writeFileSync(join(dir, 'xl'), `#!/bin/sh\n${pick} exec '${FAKE_XL}' "$@"\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'xentop'), `#!/bin/sh\n${pick} exec '${FAKE_XL}' xentop "$@"\n`, { mode: 0o755 });
  mkdirSync(join(dir, 'images'));
  writeFileSync(join(dir, 'images', 'base.img'), 'base\n');
  writeFileSync(join(dir, 'web.xl.cfg'), TEMPLATE);
  const hosts = new XenHosts(sshds.map((s, i) => ({ name: names[i]!, address: '127.0.0.1', port: s.port, user: s.user, privateKeyPath: s.privateKeyPath, hostKeyFingerprint: s.hostKeyFingerprint })), { ssh: { connectAttempts: 1 } });
  const hv = new XenHypervisor({ hosts, xlPath: join(dir, 'xl'), xentopPath: join(dir, 'xentop'), cfgDir: join(dir, 'cfg') });
  cleanups.push(async () => {
    await hv.close();
    for (const s of sshds) await s.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const policy = (saturatedAt?: number): Policy => ({
    file: join(dir, 'web.yaml'), pool: 'web', min: 2, max: 8,
    guest: { driver: 'xen', template: join(dir, 'web.xl.cfg'), image: join(dir, 'images', 'base.img'), clone: 'copy', healthPath: '/healthz', metricsPath: '/metrics', metrics: [], bootTimeoutMs: 30_000, stopTimeoutMs: 2_000, drainTimeoutMs: 1_000 },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' },
    sampling: { intervalMs: 5000, windowMs: 60_000 }, warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' }, scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    onMissing: 'hold', unknownGuests: 'retire', rules: [], schedules: [], breaker: { failures: 3, openMs: 60_000 }, autoHeal: { ...DEFAULT_AUTO_HEAL },
    ...(saturatedAt !== undefined ? { contention: { saturatedAt } } : {}),
  });
  return { hv, state, policy };
}

const setCpu = (state: string, domain: string, pct: number) => writeFileSync(join(state, 'cpu', domain), pct.toFixed(1));

test('hostFacts sums every domain\'s xentop CPU% (Domain-0 too) against xl info nr_cpus, with free memory', async (t) => {
  const e = await twoDom0s();
  writeFileSync(join(e.state['dom0-a']!, 'nr_cpus'), '4');
  setCpu(e.state['dom0-a']!, 'Domain-0', 120);
  setCpu(e.state['dom0-b']!, 'Domain-0', 30);
  // dom0-a: one guest of ours burning 250% besides Domain-0's 120%, on 4 CPUs.
  const c = await e.hv.clone({ id: 'web-h1', pool: 'web', policy: e.policy() });
  await e.hv.boot({ id: 'web-h1', pool: 'web', policy: e.policy() }, c.meta);
  t.is(c.host, 'dom0-a', 'the first name wins a tie');
  setCpu(e.state['dom0-a']!, 'gh-web-h1', 250);
  const facts = await e.hv.hostFacts();
  t.deepEqual(facts.map((f) => f.host), ['dom0-a', 'dom0-b']);
  t.is(facts[0]!.cpuRatio, (120 + 250) / 400);
  t.is(facts[1]!.cpuRatio, 30 / 200);
  t.is(facts[0]!.freeMemoryMb, 2014 - 128);
  t.is(facts[1]!.freeMemoryMb, 2014);
  const argv = readFileSync(join(e.state['dom0-a']!, 'argv'), 'utf8').split('\n');
  t.true(argv.includes('xentop -b -f -d 1 -i 2'), argv.join('\n'));
  t.true(argv.includes('info'));
});

test('with contention placement skips a saturated dom0 for one that is not, though the pool is already there', async (t) => {
  const e = await twoDom0s();
  // dom0-b is busy (190% of 2 CPUs = 0.95) with domains of others.
  setCpu(e.state['dom0-b']!, 'Domain-0', 190);
  // Without contention the first guest goes by name (a tie): dom0-a has the pool's guest now.
  const first = await e.hv.clone({ id: 'web-p1', pool: 'web', policy: e.policy() });
  t.is(first.host, 'dom0-a');
  await e.hv.boot({ id: 'web-p1', pool: 'web', policy: e.policy() }, first.meta);
  const second = await e.hv.clone({ id: 'web-p2', pool: 'web', policy: e.policy(0.9) });
  t.is(second.host, 'dom0-a', 'spread would pick dom0-b; saturation wins over spread');
  // Without contention the same facts spread the pool as always.
  const third = await e.hv.clone({ id: 'web-p3', pool: 'web', policy: e.policy() });
  t.is(third.host, 'dom0-b');
});

test('a dom0 whose xentop output cannot be read has no CPU figure (not saturated) and keeps its free memory', async (t) => {
  const e = await twoDom0s();
  writeFileSync(join(e.state['dom0-b']!, 'cpu', 'Domain-0'), 'lots');
  const facts = await e.hv.hostFacts();
  t.deepEqual(facts[1], { host: 'dom0-b', freeMemoryMb: 2014 });
  t.is(facts[0]!.cpuRatio, 0);
});
