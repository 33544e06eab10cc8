// The simulator runs the warm pool as the pool loop does (decision/warm-pool.ts): a scale-out
// takes warm guests first, which serve after an unpause instead of a boot, and the warm pool is
// refilled. Against the same load, a warm pool means less time under-provisioned and costs the
// warm guests' hours.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyRule, idleRule, makePolicy } from '../../src/decision/test-helpers.ts';
import { simulate } from '../../src/simulator/simulate.ts';
import { runSimulate } from '../../src/simulator/simulate-command.ts';

const policy = (warm?: number) => makePolicy({
  min: 2,
  max: 8,
  rules: [busyRule(), idleRule({ below: 30 })],
  scaleOut: { cooldownMs: 0, whileBooting: 'add' },
  scaleIn: { cooldownMs: 0, stabilizationMs: 600_000, victims: 'newest' },
  warmupMs: 0,
  ...(warm !== undefined ? { warmPool: { size: warm } } : {}),
});

// Two bursts an hour apart: 20 min at 40 rps (under 2 guests' 50 rps each), 10 min at 140 rps
// (3 guests' worth), back to 40; the pool shrinks back to 2 between them.
const trace = Float64Array.from({ length: 7200 }, (_, s) => (s % 3600 >= 1200 && s % 3600 < 1800 ? 140 : 40));
const run = (warm?: number) =>
  simulate({ policy: policy(warm), trace, stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 60, healthDelaySeconds: 10, warmBootSeconds: 1, drainSeconds: 5, noise: 0, seed: 1 });

test('a warm pool serves a burst sooner: less load meets too few guests, at the cost of the warm guests\' hours', (t) => {
  const cold = run();
  const warm = run(1);
  t.log(`cold: under-provisioned requests ${(100 * cold.metrics.underProvisionedRequests).toFixed(2)}%, ${cold.metrics.guestHours.toFixed(2)} guest-hours; warm pool 1: ${(100 * warm.metrics.underProvisionedRequests).toFixed(2)}%, ${warm.metrics.guestHours.toFixed(2)} guest-hours`);
  t.deepEqual(cold.scaleOutGuests.warm, 0);
  t.true(warm.scaleOutGuests.warm >= 2, `one warm guest taken per burst: ${JSON.stringify(warm.scaleOutGuests)}`);
  t.true(warm.metrics.underProvisionedRequests < cold.metrics.underProvisionedRequests / 2, 'the burst waits an unpause, not a boot');
  t.true(warm.metrics.timeshareU < cold.metrics.timeshareU);
  // The warm guest is paid for the whole time it waits (about one guest-hour per hour here).
  t.true(warm.metrics.guestHours > cold.metrics.guestHours + 1.5);
});

test('the warm pool is refilled after a take: the second burst is served warm too', (t) => {
  const warm = run(1);
  const outs = warm.actions.filter((a) => a.action === 'scale-out');
  const bursts = new Set(outs.map((a) => Math.floor((a.at - outs[0]!.at) / 3_600_000)));
  t.is(bursts.size, 2, 'both bursts scaled out');
  // Each burst's first guest was warm: as many warm takes as bursts.
  t.is(warm.scaleOutGuests.warm, 2, JSON.stringify(warm.scaleOutGuests));
});

test('without warm_pool nothing changes: no warm guest, none billed', (t) => {
  const a = run();
  const b = run(0);
  t.deepEqual(a.metrics, b.metrics);
  t.deepEqual(b.scaleOutGuests, { warm: 0, cold: a.scaleOutGuests.cold });
});

test('gridhost simulate says how many scale-out guests were taken warm for a policy with warm_pool', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-sim-warm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'web.yaml'), 'pool: web\nmin: 2\nmax: 8\nguest: { template: web.local.yaml, image: images/web }\nwarm_pool: { size: 1 }\nrules:\n  - { name: busy, strategy: threshold, metric: cpu, above: 70, step: +1 }\n  - { name: idle, strategy: threshold, metric: cpu, below: 30, step: -1 }\n');
  writeFileSync(join(dir, 'trace.csv'), ['time,rps', ...Array.from({ length: 720 }, (_, i) => `${i * 5},${i >= 120 && i < 240 ? 200 : 40}`)].join('\n'));
  const out: string[] = [];
  const code = await runSimulate(['--policy', 'web.yaml', '--trace', 'trace.csv', '--json', '--warm-boot', '2'], { out: (l) => out.push(l), err: (l) => out.push(l) }, { cwd: dir });
  t.is(code, 0, out.join('\n'));
  const summary = JSON.parse(out.join('\n'));
  t.is(summary.warmPool.size, 1);
  t.is(summary.warmPool.warmBootSeconds, 2);
  t.true(summary.warmPool.scaleOutGuests.warm >= 1, JSON.stringify(summary.warmPool));
});
