// Rollouts on a real gridhost with real local guests under steady keep-alive HTTP load (wrk,
// through the builtin balancer): after a template edit `gridhost rollout` replaces every guest
// of a pool of 4, one batch at a time with surge, the pool never under 4 healthy guests and no
// request failing; then a new base image whose guests fail their health check, with
// `rollout: auto`, stops the rollout at its first batch and keeps the old guests.
// Drives wrk: run under flock /tmp/gridhost-heavy.lock.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { freePort, getJson, runCli, startGridhost, waitUntil, type GridhostProcess } from './harness.ts';
import { failures, steadyLoad, total } from './wrk.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'roll';
const TOKEN = 'rollout-local-test-token-0123456789abcdef';

function policy(lbPort: number, o: { rollout?: string; bootTimeout?: string } = {}): string {
  return `pool: ${POOL}
min: 4
max: 6
guest:
  driver: local
  template: roll.local.yaml
  image: images/web
  boot_timeout: ${o.bootTimeout ?? '20s'}
  stop_timeout: 5s
  drain_timeout: 10s
balancer:
  listen: 127.0.0.1:${lbPort}
  check: { interval: 200ms, fall: 2, rise: 1 }
sampling:
  interval: 500ms
  window: 30s
warmup: 0s
${o.rollout ?? ''}
rules:
  - name: never
    strategy: threshold
    metric: rps
    above: 100000
    step: +1
`;
}

interface GuestView { id: string; state: string; outdated?: boolean }
interface PoolView { guests: GuestView[]; rollout: { state: string; outdated?: string[]; replaced?: string[]; launched?: string[]; batches?: number; failure?: { code: string; message: string } } }

const view = async (gh: GridhostProcess): Promise<PoolView> => (await getJson(`${gh.api}/api/pools/${POOL}`)).json as PoolView;
const healthyIds = (v: PoolView) => v.guests.filter((g) => g.state === 'healthy').map((g) => g.id).sort();

/** Samples the number of healthy guests every 100 ms until stopped: the lowest seen. */
function watchSize(gh: GridhostProcess) {
  let min = Infinity;
  let max = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const n = healthyIds(await view(gh)).length;
      min = Math.min(min, n);
      max = Math.max(max, n);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { async stop() { stopped = true; await loop; return { min, max }; } };
}

test('a template edit is rolled out over a pool of 4 under load with surge: every guest replaced, never under 4, no failed request; a new image failing its health check stops the rollout and the old guests stay', async (t) => {
  t.timeout(300_000);
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { [`${POOL}.yaml`]: policy(lbPort) }, templates: { 'roll.local.yaml': webTemplate(2) }, env: { GRIDHOST_API_TOKEN: TOKEN } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  const cli = (args: string[]) => runCli(args, { cwd: gh.dir, env: { GRIDHOST_URL: gh.api, GRIDHOST_API_TOKEN: TOKEN, GRIDHOST_ACTOR: 'tester@ci' } });
  const before = await waitUntil(async () => {
    const v = await view(gh);
    return v.guests.length === 4 && v.guests.every((g) => g.state === 'healthy') ? healthyIds(v) : undefined;
  }, 60_000, '4 healthy guests');
  t.true((await view(gh)).guests.every((g) => g.outdated === false), 'guests made from the current template are not outdated');
  const nothing = await cli(['rollout', POOL]);
  t.is(nothing.code, 0, nothing.stderr);
  t.regex(nothing.stdout, /every guest is made from the current template and base image/);

  const load = steadyLoad({ url: `http://127.0.0.1:${lbPort}/`, connections: 6, delayMs: 40, segmentS: 5, timeoutS: 10 });
  const size = watchSize(gh);
  // The edit: every guest now runs from an older template.
  writeFileSync(join(gh.dir, 'templates', 'roll.local.yaml'), webTemplate(3));
  await waitUntil(async () => ((await view(gh)).rollout.outdated?.length === 4 ? true : undefined), 20_000, 'the 4 guests seen as outdated');
  const r = await cli(['rollout', POOL, '--wait', '--timeout', '3m', '--reason', 'template edit']);
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const { min, max } = await size.stop();
  const runs = await load.stop();
  const sum = total(runs);
  t.log(`rollout of 4: ${sum.requests} requests served, ${failures(sum)} failed (${JSON.stringify(sum)}); healthy guests ${min}..${max}`);

  const done = await view(gh);
  const after = healthyIds(done);
  t.is(done.rollout.state, 'done');
  t.is(after.length, 4);
  t.deepEqual(after.filter((id) => before.includes(id)), [], 'every guest was replaced');
  t.deepEqual([...(done.rollout.replaced ?? [])].sort(), before, 'the rollout retired exactly the old guests');
  t.deepEqual(done.rollout.outdated, []);
  t.is(done.rollout.batches, 4, 'max_surge 1: one guest per batch');
  t.true(min >= 4, `the pool never had fewer than 4 healthy guests (lowest ${min})`);
  t.true(max <= 5, `surge stayed within max_surge 1 (highest ${max})`);
  t.true(sum.requests > 200, `${sum.requests} requests served`);
  t.is(failures(sum), 0, `failed requests: ${JSON.stringify(sum)}`);

  // A new base image whose guests never pass their health check (the example guest answers 503
  // while a file `unhealthy` is in its directory), with rollout: auto.
  const load2 = steadyLoad({ url: `http://127.0.0.1:${lbPort}/`, connections: 6, delayMs: 40, segmentS: 5, timeoutS: 10 });
  writeFileSync(join(gh.dir, 'templates', 'images', 'web', 'unhealthy'), '');
  writeFileSync(join(gh.dir, 'policies', `${POOL}.yaml`), policy(lbPort, { rollout: 'rollout: auto', bootTimeout: '4s' }));
  const failed = await waitUntil(async () => {
    const v = await view(gh);
    return v.rollout.state === 'failed' ? v : undefined;
  }, 90_000, 'the automatic rollout to stop');
  t.regex(failed.rollout.failure?.message ?? '', /health/i);
  // It does not start again for the same broken image.
  await new Promise((res) => setTimeout(res, 5000));
  const later = await view(gh);
  const runs2 = await load2.stop();
  const sum2 = total(runs2);
  t.log(`failed rollout: ${sum2.requests} requests served, ${failures(sum2)} failed`);
  t.is(later.rollout.state, 'failed', 'rollout: auto does not retry the digests it failed on');
  t.deepEqual(healthyIds(later), after, 'the old guests stay, all healthy');
  t.is(later.guests.length, 4, 'nothing else is left of the failed batch');
  t.deepEqual([...(later.rollout.outdated ?? [])].sort(), after, 'they are still outdated');
  t.is(failures(sum2), 0, `failed requests: ${JSON.stringify(sum2)}`);
  const events = (await getJson(`${gh.api}/api/events?pool=${POOL}`)).json.events as { reason: string; outcome: string; direction: string }[];
  t.true(events.some((e) => e.direction === 'replace' && e.outcome === 'failed' && /rollout stopped/.test(e.reason)), 'the stop is an event');
  t.true(gh.logs.some((l) => typeof l.msg === 'string' && l.msg.includes(`rollout of ${POOL} stopped`)), 'and an error line');
  t.true(readFileSync(join(gh.dir, 'policies', `${POOL}.yaml`), 'utf8').includes('rollout: auto'));
});
