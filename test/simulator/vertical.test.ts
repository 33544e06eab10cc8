// The simulator runs vertical steps as the pool loop does (the same decide()): with guest.vertical
// and room to step, a burst is met by more vCPUs per guest (capacity per guest is per vCPU) that
// show after a resize, not after a boot; at the ceiling it clones as before.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Policy } from '../../src/domain/policy.ts';
import { busyRule, idleRule, makePolicy } from '../../src/decision/test-helpers.ts';
import { simulate } from '../../src/simulator/simulate.ts';
import { runSimulate } from '../../src/simulator/simulate-command.ts';

const policy = (vertical: boolean): Policy => {
  const p = makePolicy({
    min: 2,
    max: 8,
    rules: [busyRule(), idleRule({ below: 30 })],
    scaleOut: { cooldownMs: 0, whileBooting: 'add' },
    scaleIn: { cooldownMs: 0, stabilizationMs: 600_000, victims: 'newest' },
    warmupMs: 0,
  });
  return vertical ? { ...p, guest: { ...p.guest, vertical: { vcpuStep: 1, memoryStepMb: 0 } } } : p;
};

// Two bursts an hour apart at 140 rps (3 one-vCPU guests' worth at 50 rps each), 40 rps between.
const trace = Float64Array.from({ length: 7200 }, (_, s) => (s % 3600 >= 1200 && s % 3600 < 1800 ? 140 : 40));
const run = (vertical: boolean, maxVcpus = 2) =>
  simulate({ policy: policy(vertical), trace, stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 60, healthDelaySeconds: 10, drainSeconds: 5, noise: 0, seed: 1, vertical: { maxVcpus, resizeSeconds: 1 } });

test('vertical first meets a burst with a resize: less load meets too little capacity than cloning guests', (t) => {
  const horizontal = run(false);
  const vertical = run(true);
  t.log(`horizontal: under-provisioned ${(100 * horizontal.metrics.underProvisionedRequests).toFixed(2)}%, ${horizontal.actions.length} actions; vertical first: ${(100 * vertical.metrics.underProvisionedRequests).toFixed(2)}%, resizes ${vertical.actions.filter((a) => a.action === 'resize').length}, scale-outs ${vertical.actions.filter((a) => a.action === 'scale-out').length}`);
  const ups = vertical.actions.filter((a) => a.action === 'resize' && a.direction === 'up');
  const downs = vertical.actions.filter((a) => a.action === 'resize' && a.direction === 'down');
  t.true(ups.length >= 2, 'each burst is met by a step up');
  t.true(downs.length >= 1, 'and stepped down afterwards');
  t.is(vertical.actions.filter((a) => a.action === 'scale-out').length, 0, '2 guests x 2 vCPUs carry 140 rps: no guest cloned');
  t.true(vertical.metrics.underProvisionedRequests < horizontal.metrics.underProvisionedRequests / 2, 'the burst waits a resize, not a boot');
});

test('at the ceiling (maxvcpus 1) a vertical policy scales out exactly as a horizontal one', (t) => {
  const a = run(false, 1);
  const b = run(true, 1);
  t.deepEqual(b.actions.map((d) => [d.at, d.action, d.from, d.to]), a.actions.map((d) => [d.at, d.action, d.from, d.to]));
  t.deepEqual(a.metrics, b.metrics);
});

test('gridhost simulate --max-vcpus runs a guest.vertical policy\'s resizes and says how many', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-sim-vertical-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'web.yaml'), 'pool: web\nmin: 2\nmax: 8\nguest: { driver: xen, template: web.xen.xl.cfg, image: /srv/images/web.img, vertical: { vcpu_step: 1 } }\nrules:\n  - { name: busy, strategy: threshold, metric: cpu, above: 70, step: +1 }\n  - { name: idle, strategy: threshold, metric: cpu, below: 30, step: -1 }\n');
  writeFileSync(join(dir, 'web.xen.xl.cfg'), 'name = {{name}}\n');
  writeFileSync(join(dir, 'trace.csv'), ['time,rps', ...Array.from({ length: 720 }, (_, i) => `${i * 5},${i >= 120 && i < 240 ? 150 : 40}`)].join('\n'));
  const sim = async (...extra: string[]) => {
    const out: string[] = [];
    const code = await runSimulate(['--policy', 'web.yaml', '--trace', 'trace.csv', '--json', '--capacity', '50', ...extra], { out: (l) => out.push(l), err: (l) => out.push(l) }, { cwd: dir });
    t.is(code, 0, out.join('\n'));
    return JSON.parse(out.join('\n'));
  };
  const roomy = await sim('--max-vcpus', '2');
  t.is(roomy.vertical.maxVcpus, 2);
  t.true(roomy.vertical.resizes >= 1, JSON.stringify(roomy.vertical));
  const none = await sim();
  t.is(none.vertical.resizes, 0, 'the default ceiling 1 leaves no room');
});
