// A template whose guests never come up must not leak guests or clones, must stop launching
// once its circuit breaker opens, and must not hold back a good pool in the same gridhost.
// One real gridhost runs three pools: `sick` (guests answer /healthz 503 forever), `missing`
// (the template's command does not exist) and `good`.
import test from 'ava';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cloneDirs, freePort, getJson, killGuests, killProcessesUnder, processesUnder, request, sleep, startGridhost, waitUntil, workspace, type GridhostProcess,
} from './harness.ts';
import { idlePoolPolicy } from './idle-pool-policy.ts';
import { webTemplate } from './web-template.ts';

// Launch failures open the breaker after 3 (and scale-outs may come every 500 ms).
const EXTRA = `scale_out:
  cooldown: 500ms
breaker:
  failures: 3
  open_for: 10m
`;
const policy = (pool: string, template: string, image: string, lbPort: number, bootTimeout: string) =>
  idlePoolPolicy({ pool, lbPort, max: 8, template, image, bootTimeout, extra: EXTRA });

const WEB_TEMPLATE = webTemplate(2);

const MISSING_TEMPLATE = `command: gridhost-no-such-command
args: ["--port", "{{port}}"]
env: {}
`;

const BAD_POOLS = ['sick', 'missing'] as const;

let gh: GridhostProcess;
let dir: string;
let goodPort: number;

test.before(async () => {
  const [sickPort, missingPort] = [await freePort(), await freePort()];
  goodPort = await freePort();
  // The sick image: the example server, with the file that makes its /healthz answer 503.
  dir = workspace({
    policies: {
      'sick.yaml': policy('sick', 'sick.local.yaml', 'images/sick', sickPort, '2s'),
      'missing.yaml': policy('missing', 'missing.local.yaml', 'images/web', missingPort, '2s'),
      'good.yaml': policy('good', 'good.local.yaml', 'images/web', goodPort, '20s'),
    },
    templates: { 'sick.local.yaml': WEB_TEMPLATE, 'good.local.yaml': WEB_TEMPLATE, 'missing.local.yaml': MISSING_TEMPLATE },
  });
  cpSync(join(dir, 'templates', 'images', 'web'), join(dir, 'templates', 'images', 'sick'), { recursive: true });
  writeFileSync(join(dir, 'templates', 'images', 'sick', 'unhealthy'), 'never healthy\n');
  gh = await startGridhost({ dir, policies: {} });
});

test.after.always(async () => {
  if (gh) await gh.stop();
  if (!dir) return;
  killProcessesUnder(dir);
  killGuests(join(dir, 'data', 'guests'));
  rmSync(dir, { recursive: true, force: true });
});

const breakerOpenLine = (pool: string) => gh.logs.find((l) => String(l.msg).startsWith('launch circuit breaker opened') && l.pool === pool);
const cloneLines = (pool: string) => gh.logs.filter((l) => l.event === 'guest' && l.pool === pool && l.action === 'clone');

/** A label set's value in Prometheus text, or undefined when the series is absent. */
function series(metrics: string, name: string, pool: string): number | undefined {
  const m = new RegExp(`^${name}\\{pool="${pool}"\\} (\\S+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : undefined;
}

for (const pool of BAD_POOLS) {
  test(`${pool}: failed launches leave no guest process or clone, open the breaker (log and /metrics) and then stop`, async (t) => {
    t.timeout(90_000);
    const opened = await waitUntil(() => breakerOpenLine(pool), 60_000, `${pool} breaker to open`, 200);
    // The breaker opens after the failed guests were cleaned up: nothing of them is left.
    t.deepEqual(processesUnder(join(gh.dir, 'data', 'guests', pool)), [], 'guest processes left running');
    t.deepEqual(cloneDirs(gh.dir, pool), [], 'clone directories left behind');
    t.is(opened.level, 'error');
    t.regex(String(opened.detail), /^\d+ consecutive launch failures; no launches for 600s: /);

    const failedSteps = gh.logs.filter((l) => l.event === 'guest' && l.pool === pool && l.state !== undefined && l.error);
    t.true(failedSteps.length >= 3, 'each failed launch logs the step that failed');
    const expectedCode = pool === 'sick' ? 'GH_HEALTH_TIMEOUT' : 'GH_BOOT_FAILED';
    for (const l of failedSteps) t.is((l.error as { code: string }).code, expectedCode, JSON.stringify(l));
    t.true(gh.logs.filter((l) => l.event === 'guest' && l.pool === pool && l.action === 'cleaned-up' && l.to === 'failed').length >= 3);

    const metrics = (await request(`${gh.api}/metrics`)).body;
    t.is(series(metrics, 'gridhost_circuit_breaker_open', pool), 1);
    const failures = series(metrics, 'gridhost_launch_failures_total', pool);
    t.true(failures !== undefined && failures >= 3, `launch failures: ${failures}`);

    const view = (await getJson(`${gh.api}/api/pools/${pool}`)).json;
    t.is(view.breaker.mode, 'open');
    t.deepEqual(view.guests, []);

    // While the breaker is open nothing more is launched, though the pool is below min.
    const launches = cloneLines(pool).length;
    t.true(launches >= 3);
    await sleep(5000);
    t.is(cloneLines(pool).length, launches, 'launches went on while the breaker was open');
    t.deepEqual(processesUnder(join(gh.dir, 'data', 'guests', pool)), []);
    t.deepEqual(cloneDirs(gh.dir, pool), []);
    t.truthy(gh.logs.find((l) => l.event === 'scale' && l.pool === pool && l.outcome === 'skipped' && /circuit breaker open/.test(String(l.detail))));
    t.is((await getJson(`${gh.api}/api/pools/${pool}`)).json.breaker.mode, 'open');
  });
}

test('a good pool beside failing ones reaches two healthy guests and serves', async (t) => {
  t.timeout(90_000);
  const view = await waitUntil(async () => {
    const v = (await getJson(`${gh.api}/api/pools/good`)).json;
    return v.counts?.healthy === 2 && v.backends.filter((b: any) => b.healthy).length === 2 && v;
  }, 60_000, 'two healthy good guests', 200);
  t.is(view.breaker.mode, 'closed');
  const r = await request(`http://127.0.0.1:${goodPort}/`);
  t.is(r.status, 200);
  t.regex(r.body, /^good-[0-9a-f]+ worked \d+ ms\n$/);
  t.is(processesUnder(join(gh.dir, 'data', 'guests', 'good')).length, 2);
});
