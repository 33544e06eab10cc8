// source: prometheus on a real gridhost with real local guests under real HTTP load, and a real
// Prometheus on loopback that discovers the guests from gridhost (the shipped gridhost-guests
// job of deploy/prometheus/prometheus.yml: http_sd on /api/prometheus/targets) and scrapes them.
// The pool's only rule reads its value from a PromQL query; the load grows the pool through it.
// Prometheus is not up when gridhost starts (a missing metric, then it answers), and when it is
// stopped the metric is missing again and the pool holds.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parse } from 'yaml';
import { closedLoopLoad, freePort, getJson, sleep, startGridhost, waitUntil } from './harness.ts';
import { PROMETHEUS_YML } from '../monitoring/monitoring-files.ts';
import { startPrometheus } from '../fixtures/prometheus/start-prometheus.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'promq';

function policy(lbPort: number): string {
  return `
pool: ${POOL}
min: 2
max: 3
guest:
  driver: local
  template: promq.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 5s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 30s
warmup: 0s
on_missing: hold
scale_out:
  cooldown: 1s
scale_in:
  cooldown: 60s
  stabilization: 60s
rules:
  - name: busy
    strategy: threshold
    source: prometheus
    query: 'sum(guest_rps{pool="{{pool}}"})'
    aggregate: sum              # the query's one value is the pool's total (the reason says so)
    above: 20
    for: 2
    step: +1
`;
}

const TEMPLATE = webTemplate(3, { RATE_WINDOW_MS: '2000' });

interface Job { job_name: string; params?: Record<string, string[]>; http_sd_configs?: { url: string; refresh_interval?: string }[] }

/** The shipped gridhost-guests job, pointed at this gridhost, with 1 s intervals. */
function prometheusConfig(apiPort: number): Record<string, unknown> {
  const shipped = parse(readFileSync(PROMETHEUS_YML, 'utf8')) as { scrape_configs: Job[] };
  const job = shipped.scrape_configs.find((j) => j.job_name === 'gridhost-guests');
  if (!job?.http_sd_configs?.[0]) throw new Error('the shipped prometheus.yml has no gridhost-guests http_sd job');
  job.http_sd_configs = [{ url: job.http_sd_configs[0].url.replace('127.0.0.1:8700', `127.0.0.1:${apiPort}`), refresh_interval: '1s' }];
  return { global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: [job] };
}

test('a rule with source: prometheus grows the pool from its query under load; a Prometheus that is down is a missing metric (hold)', async (t) => {
  t.timeout(240_000);
  const lbPort = await freePort();
  const promPort = await freePort();
  const gh = await startGridhost({
    policies: { [`${POOL}.yaml`]: policy(lbPort) },
    templates: { 'promq.local.yaml': TEMPLATE },
    env: { GRIDHOST_PROMETHEUS_URL: `http://127.0.0.1:${promPort}` },
  });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  const pool = async () => (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
  await waitUntil(async () => (await pool()).counts.healthy === 2, 60_000, 'min 2 guests healthy without any metric');
  // Nothing answers at prometheus.url yet: the rule's metric is missing, said once.
  const missing = await waitUntil(() => gh.logs.find((l) => l.msg === 'prometheus query gave no value; the metric counts as missing (on_missing: hold)'), 20_000, 'a missing-metric warning');
  t.like(missing, { pool: POOL, rule: 'busy', code: 'GH_QUERY_FAILED' });
  t.regex(String(missing.error), /ECONNREFUSED/);

  const prom = await startPrometheus(prometheusConfig(gh.apiPort), promPort);
  let promStopped = false;
  t.teardown(async () => {
    if (!promStopped) await prom.stop();
  });
  await waitUntil(async () => ((await prom.query(`guest_rps{pool="${POOL}"}`)).data?.result.length ?? 0) === 2, 60_000, 'both guests scraped through gridhost discovery', 250);
  await waitUntil(() => gh.logs.some((l) => l.msg === 'prometheus query answers again' && l.rule === 'busy'), 20_000, 'the query answering');
  // Idle: the query says about 0 and the pool stays at 2.
  await sleep(3000);
  t.is((await pool()).guests.filter((g: { state: string }) => g.state !== 'gone' && g.state !== 'failed').length, 2, 'idle pool not grown');

  const load = closedLoopLoad(`http://127.0.0.1:${lbPort}/`, 6);
  // Runs before the teardowns above (ava runs them last first): a failed wait leaves no load spinning.
  t.teardown(() => load.stop());
  const events = async () => (await getJson(`${gh.api}/api/events?pool=${POOL}`)).json.events as { direction: string; from: number; to: number; outcome: string; reason: string }[];
  const grown = await waitUntil(async () => (await events()).find((e) => e.direction === 'scale-out' && e.from === 2 && e.outcome === 'done'), 60_000, 'a scale-out from the query', 250);
  t.is(grown.to, 3);
  t.regex(grown.reason, /prometheus:busy sum [\d.]+ > 20/);
  // The samples carry the query's value (what the decision read), beside the guests' own.
  const samples = (await pool()).samples as { pool?: Record<string, number> }[];
  t.true(samples.some((s) => (s.pool?.['prometheus:busy'] ?? 0) > 20), JSON.stringify(samples.slice(-3)));

  // Prometheus goes away under load: the metric is missing again, the pool holds at 3.
  await prom.stop();
  promStopped = true;
  const before = gh.logs.filter((l) => l.msg === 'prometheus query gave no value; the metric counts as missing (on_missing: hold)').length;
  await waitUntil(() => gh.logs.filter((l) => l.msg === 'prometheus query gave no value; the metric counts as missing (on_missing: hold)').length === before + 1, 20_000, 'missing again');
  await sleep(3000);
  const after = await pool();
  t.is(after.guests.filter((g: { state: string }) => ['cloning', 'booting', 'healthy'].includes(g.state)).length, 3);
  t.is(after.lastDecision.direction, 'hold');
  t.true((after.samples as { pool?: Record<string, number> }[]).slice(-3).every((s) => s.pool === undefined || s.pool['prometheus:busy'] === undefined), 'no value recorded while Prometheus is down');
  await load.stop();
  t.true(load.stats.ok > 100, `${load.stats.ok} requests served`);
  t.is(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('\n'));
});
