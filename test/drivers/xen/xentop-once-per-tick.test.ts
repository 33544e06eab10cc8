// A sampling tick of a pool with policy contention, as pool-sampler.ts runs it (the guests'
// metrics and the hosts' facts at once), over the xen drivers as createXenDrivers wires them: two
// dom0s, each a real sshd on loopback with its own test/drivers/xen/fake-xl.sh state. xentop runs
// once per dom0 per tick, serving both the guests' CPU and each dom0's CPU use, which say what
// they said with a run each.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type Policy } from '../../../src/domain/policy.ts';
import type { Guest } from '../../../src/domain/types.ts';
import { createXenDrivers } from '../../../src/drivers/xen/create-xen-drivers.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { PoolSampler } from '../../../src/controller/pool-sampler.ts';
import { RuleQueries } from '../../../src/controller/rule-queries.ts';
import { RecordingTelemetry } from '../../../src/controller/telemetry.ts';
import { startSshd } from '../ssh/sshd-fixture.ts';

const FAKE_XL = fileURLToPath(new URL('./fake-xl.sh', import.meta.url));
const TEMPLATE = 'name = {{name}}\nuuid = {{uuid}}\ntype = "pv"\nkernel = "/k"\nmemory = 128\nvif = [ \'bridge=xenbr0,mac={{mac}}\' ]\ndisk = [ \'format={{format}},vdev=xvda,access=rw,target={{disk}}\' ]\n';

test('one xentop per dom0 per tick serves the guests\' CPU and the dom0s\' CPU use (contention)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-xentop-tick-'));
  const sshds = [await startSshd(), await startSshd()];
  const names = ['dom0-a', 'dom0-b'];
  const state = (i: number) => join(dir, `state-${sshds[i]!.port}`);
  for (const i of [0, 1]) mkdirSync(join(state(i), 'cpu'), { recursive: true });
  // $SSH_CONNECTION's 4th word is the port this session came in on: the dom0 it reached.
  const pick = `XL_STATE='${dir}'/state-$(echo "$SSH_CONNECTION" | cut -d' ' -f4)`;
  writeFileSync(join(dir, 'xl'), `#!/bin/sh\n${pick} exec '${FAKE_XL}' "$@"\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'xentop'), `#!/bin/sh\n${pick} exec '${FAKE_XL}' xentop "$@"\n`, { mode: 0o755 });
  mkdirSync(join(dir, 'images'));
  writeFileSync(join(dir, 'images', 'base.img'), 'base\n');
  writeFileSync(join(dir, 'web.xl.cfg'), TEMPLATE);
  const d = createXenDrivers(
    sshds.map((s, i) => ({ name: names[i]!, address: '127.0.0.1', port: s.port, user: s.user, privateKeyPath: s.privateKeyPath, hostKeyFingerprint: s.hostKeyFingerprint })),
    { ssh: { connectAttempts: 1 }, hypervisor: { xlPath: join(dir, 'xl'), cfgDir: join(dir, 'cfg') }, xentop: { xentopPath: join(dir, 'xentop') } },
  );
  t.teardown(async () => {
    await d.close();
    for (const s of sshds) await s.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const policy: Policy = {
    file: join(dir, 'web.yaml'), pool: 'web', min: 2, max: 8,
    guest: { driver: 'xen', template: join(dir, 'web.xl.cfg'), image: join(dir, 'images', 'base.img'), clone: 'copy', healthPath: '/healthz', metricsPath: '/metrics', metrics: [], bootTimeoutMs: 30_000, stopTimeoutMs: 2_000, drainTimeoutMs: 1_000 },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' },
    sampling: { intervalMs: 5000, windowMs: 60_000 }, warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' }, scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    onMissing: 'hold', unknownGuests: 'retire', rules: [], schedules: [], breaker: { failures: 3, openMs: 60_000 }, autoHeal: { ...DEFAULT_AUTO_HEAL },
    contention: { saturatedAt: 0.9 },
  };
  // One guest on each dom0 (the pool spreads), placed without contention: placement would
  // measure the hosts, and the tick must not find that measurement cached.
  const guests: Guest[] = [];
  const { contention: _, ...placing } = policy;
  for (const id of ['web-t1', 'web-t2']) {
    const spec = { id, pool: 'web', policy: placing };
    const c = await d.hypervisor.clone(spec);
    const b = await d.hypervisor.boot(spec, c.meta);
    guests.push({ id, pool: 'web', state: 'healthy', driver: 'xen', host: c.host!, address: b.address ?? '10.0.0.1:80', createdAt: 0, updatedAt: 0, meta: { ...c.meta, ...b.meta } });
  }
  t.deepEqual(guests.map((g) => g.host), names);
  writeFileSync(join(state(0), 'cpu', 'gh-web-t1'), '150.0');
  writeFileSync(join(state(0), 'cpu', 'Domain-0'), '30.0');
  writeFileSync(join(state(1), 'cpu', 'gh-web-t2'), '40.0');

  const telemetry = new RecordingTelemetry();
  const sampler = new PoolSampler('web', {
    store: new MemoryStore(), metrics: d.xentop, telemetry, queries: new RuleQueries('web', telemetry),
    hostFacts: () => d.hypervisor.hostFacts(), policy: () => policy,
  });
  const xentops = (i: number) => readFileSync(join(state(i), 'argv'), 'utf8').split('\n').filter((l) => l.startsWith('xentop')).length;
  const before = [xentops(0), xentops(1)];
  t.deepEqual(before, [0, 0], 'nothing measured the hosts before the tick (HostUsage has nothing cached)');
  const c0 = d.hosts.counters();
  const sample = await sampler.sample(guests, Date.now(), policy);
  const c1 = d.hosts.counters();

  t.deepEqual([xentops(0) - before[0]!, xentops(1) - before[1]!], [1, 1], 'one xentop per dom0');
  t.is(c1.commands - c0.commands, 4, 'per dom0: xentop and xl info, nothing else');
  t.is(c1.handshakes - c0.handshakes, 0);
  // What each reports, from the one run.
  t.like(sample.guests['web-t1'], { cpu: 150 });
  t.like(sample.guests['web-t2'], { cpu: 40 });
  t.deepEqual(sample.hosts, [
    { host: 'dom0-a', cpuRatio: (150 + 30) / 200, freeMemoryMb: 2014 - 128 },
    { host: 'dom0-b', cpuRatio: 40 / 200, freeMemoryMb: 2014 - 128 },
  ]);
});
