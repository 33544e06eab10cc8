// A real Prometheus (Debian's prometheus), started on loopback from the prometheus.yml shipped
// in deploy/prometheus/ (only the target address and the intervals changed), scrapes a real
// gridhost; the test then asks Prometheus over its HTTP API for the pool-size series, runs every
// query of the shipped Grafana dashboard, and checks that every shipped alert rule evaluates.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, getJson, request, sleep, startGridhost, waitUntil } from '../e2e/harness.ts';
import { monitoredPoolPolicy } from './monitored-pool-policy.ts';
import { ALERTS_YML, PROMETHEUS_YML, alertRules, dashboard, dashboardExprs, metricNames, substituteGrafanaVars } from './monitoring-files.ts';

const POOL = 'scrape';

interface PromConfig {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: { job_name: string; static_configs?: { targets: string[] }[]; http_sd_configs?: { url: string; refresh_interval?: string }[] }[];
}

/** The shipped config with the test's target, 1 s intervals and the rule file's absolute path. */
function configFor(apiPort: number): string {
  const cfg = parse(readFileSync(PROMETHEUS_YML, 'utf8')) as PromConfig;
  cfg.global.scrape_interval = '1s';
  cfg.global.evaluation_interval = '1s';
  if (cfg.rule_files.length !== 1 || cfg.rule_files[0] !== 'gridhost-alerts.yml') throw new Error(`unexpected rule_files ${JSON.stringify(cfg.rule_files)}`);
  cfg.rule_files = [ALERTS_YML];
  const job = cfg.scrape_configs.find((s) => s.job_name === 'gridhost');
  if (!job) throw new Error('the shipped prometheus.yml has no gridhost job');
  job.static_configs = [{ targets: [`127.0.0.1:${apiPort}`] }];
  const guests = cfg.scrape_configs.find((s) => s.job_name === 'gridhost-guests');
  if (!guests || guests.http_sd_configs?.length !== 1) throw new Error('the shipped prometheus.yml has no gridhost-guests job with one http_sd_configs entry');
  guests.http_sd_configs[0]!.url = guests.http_sd_configs[0]!.url.replace('127.0.0.1:8700', `127.0.0.1:${apiPort}`);
  guests.http_sd_configs[0]!.refresh_interval = '1s';
  return stringify(cfg);
}

async function promQuery(base: string, q: string): Promise<{ status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } }> {
  const r = await request(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  return JSON.parse(r.body);
}

test('a real Prometheus scrapes gridhost from the shipped prometheus.yml; pool size, dashboard queries and alert rules work', async (t) => {
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { [`${POOL}.yaml`]: monitoredPoolPolicy(POOL, lbPort) } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });

  const dir = mkdtempSync(join(tmpdir(), 'gridhost-prom-'));
  const promPort = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), configFor(gh.apiPort));
  const prom = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let promErr = '';
  prom.stderr!.on('data', (d: Buffer) => (promErr += d.toString()));
  const promExited = new Promise<void>((r) => prom.once('exit', () => r()));
  t.teardown(async () => {
    if (prom.exitCode === null) prom.kill('SIGTERM');
    await promExited;
    rmSync(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${promPort}`;
  await waitUntil(async () => {
    if (prom.exitCode !== null) throw new Error(`prometheus exited: ${promErr}`);
    return (await request(`${base}/-/ready`).catch(() => ({ status: 0 }))).status === 200;
  }, 30_000, 'prometheus ready');

  // The target is scraped and up.
  const target = await waitUntil(async () => {
    const r = await getJson(`${base}/api/v1/targets`);
    const active = (r.json.data.activeTargets as { labels: Record<string, string>; health: string; lastError: string }[]);
    return active.find((a) => a.labels.job === 'gridhost' && a.health === 'up');
  }, 30_000, 'gridhost target up');
  t.is(target.labels.instance, `127.0.0.1:${gh.apiPort}`);

  // The guests, discovered from gridhost's /api/prometheus/targets, are scraped in Prometheus text.
  const guestTargets = await waitUntil(async () => {
    const r = await getJson(`${base}/api/v1/targets`);
    const up = (r.json.data.activeTargets as { labels: Record<string, string>; health: string }[]).filter((a) => a.labels.job === 'gridhost-guests' && a.health === 'up');
    return up.length === 2 ? up : undefined;
  }, 60_000, 'both guests discovered and up');
  const pools = (await getJson(`${gh.api}/api/pools/${POOL}`)).json.guests as { id: string }[];
  t.deepEqual(guestTargets.map((g) => g.labels.guest).sort(), pools.map((g) => g.id).sort());
  t.true(guestTargets.every((g) => g.labels.pool === POOL));
  await waitUntil(async () => ((await promQuery(base, `guest_requests_total{pool="${POOL}"}`)).data?.result.length ?? 0) === 2, 30_000, 'guest series in Prometheus', 250);

  // The pool-size series, as Prometheus stored it: both guests counted, bounds 2..3.
  const size = await waitUntil(async () => {
    const r = await promQuery(base, `sum without (state) (gridhost_guests{job="gridhost",pool="${POOL}",state=~"cloning|booting|healthy"})`);
    const v = r.data?.result[0]?.value[1];
    return v === '2' ? r.data!.result[0]! : undefined;
  }, 60_000, 'pool size 2 in Prometheus');
  t.is(size.metric.pool, POOL);
  for (const [metric, value] of [['gridhost_pool_min_guests', '2'], ['gridhost_pool_max_guests', '3'], ['gridhost_pool_desired_guests', '2']]) {
    const r = await promQuery(base, `${metric}{pool="${POOL}"}`);
    t.is(r.status, 'success');
    t.is(r.data?.result[0]?.value[1], value, metric);
  }
  // Wait for guests to be sampled so the rule series exist, and for a few scrapes of history.
  await waitUntil(async () => {
    await request(`http://127.0.0.1:${lbPort}/`).catch(() => undefined);
    const r = await promQuery(base, `gridhost_rule_value{pool="${POOL}",rule="cpu"}`);
    return (r.data?.result.length ?? 0) > 0;
  }, 60_000, 'rule value in Prometheus', 250);
  await sleep(3000);

  // Every metric the dashboard queries is in this gridhost's own /metrics (a family with its
  // TYPE line, whether or not it has samples yet).
  const exposition = (await request(`${gh.api}/metrics`)).body;
  const exposed = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  for (const { where, expr } of dashboardExprs(dashboard())) {
    for (const n of metricNames(expr)) t.true(exposed.has(n), `${where}: ${n} is not in gridhost's /metrics`);
  }

  // Every query of the Grafana dashboard is valid PromQL over gridhost's series, and the ones
  // that draw a pool's size, bounds, rules and what its balancer serves return data.
  const mustHaveData = [
    'gridhost_pool_max_guests', 'gridhost_pool_min_guests', 'gridhost_pool_desired_guests', 'gridhost_rule_value', 'gridhost_rule_target', 'gridhost_guests{',
    'gridhost_balancer_requests_in_flight', 'gridhost_balancer_backend_up', 'gridhost_pool_serving', 'gridhost_balancer_responses_total', 'gridhost_balancer_request_duration_seconds_bucket',
  ];
  let withData = 0;
  for (const { where, expr } of dashboardExprs(dashboard())) {
    const q = substituteGrafanaVars(expr, POOL);
    const r = await promQuery(base, q);
    t.is(r.status, 'success', `${where}: ${q}: ${r.error ?? ''}`);
    if (mustHaveData.some((m) => expr.startsWith(m) || expr.includes(`(${m}`))) {
      withData++;
      t.true((r.data?.result.length ?? 0) > 0, `${where}: ${q} returned no series`);
    }
  }
  t.true(withData >= 12, `${withData} size, bound, rule and serving queries checked for data`);

  // The shipped alert rules are loaded by this Prometheus and evaluate without error.
  const rules = await waitUntil(async () => {
    const r = await getJson(`${base}/api/v1/rules`);
    const all = (r.json.data.groups as { rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[]).flatMap((g) => g.rules);
    return all.length > 0 && all.every((x) => !x.lastEvaluation.startsWith('0001')) ? all : undefined;
  }, 30_000, 'alert rules evaluated');
  t.deepEqual(rules.map((r) => r.name).sort(), alertRules().map((r) => r.alert).sort());
  for (const r of rules) t.is(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
});
