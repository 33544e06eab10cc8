// The alert rules shipped in deploy/prometheus/ pass Prometheus' own checker and its rule unit
// tests (Debian's promtool), and every alert there has a case where it fires and one where it
// must stay silent.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ALERTS_TEST_YML, ALERTS_YML, PROMETHEUS_DIR, alertRules, exportedFamilies, metricNames } from './monitoring-files.ts';

test('promtool check rules accepts gridhost-alerts.yml', (t) => {
  const r = spawnSync('promtool', ['check', 'rules', ALERTS_YML], { encoding: 'utf8' });
  t.is(r.error, undefined, 'promtool runs (scripts/ensure-packages.sh installs prometheus)');
  t.is(r.status, 0, `${r.stdout}${r.stderr}`);
  t.regex(r.stdout, new RegExp(`SUCCESS: ${alertRules().length} rules found`));
});

test('promtool test rules passes gridhost-alerts.test.yml', (t) => {
  const r = spawnSync('promtool', ['test', 'rules', ALERTS_TEST_YML], { encoding: 'utf8', cwd: PROMETHEUS_DIR });
  t.is(r.error, undefined);
  t.is(r.status, 0, `${r.stdout}${r.stderr}`);
  t.regex(r.stdout, /SUCCESS/);
});

test('every alert has a promtool case where it fires and one where it does not', (t) => {
  const doc = parse(readFileSync(ALERTS_TEST_YML, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
  const cases = doc.tests.flatMap((x) => x.alert_rule_test ?? []);
  const names = alertRules().map((r) => r.alert);
  t.true(names.length >= 6);
  for (const name of names) {
    t.true(cases.some((c) => c.alertname === name && c.exp_alerts.length > 0), `${name} fires in some case`);
    t.true(cases.some((c) => c.alertname === name && c.exp_alerts.length === 0), `${name} stays silent in some case`);
  }
  for (const c of cases) t.true(names.includes(c.alertname), `test case for unknown alert ${c.alertname}`);
});

test('the alerts cover the issue\'s list: at max 10 minutes, breaker open, repairs, policy reload failures, below min', (t) => {
  const rules = alertRules();
  const uses = (metric: string) => rules.filter((r) => metricNames(r.expr).includes(metric)).map((r) => r.alert);
  t.deepEqual(uses('gridhost_circuit_breaker_open'), ['GridhostCircuitBreakerOpen']);
  t.deepEqual(uses('gridhost_reconcile_repairs_total'), ['GridhostReconcileRepairs']);
  t.deepEqual(uses('gridhost_policy_file_invalid'), ['GridhostPolicyReloadFailed']);
  t.deepEqual(uses('gridhost_pool_min_guests'), ['GridhostPoolBelowMin']);
  t.deepEqual(uses('gridhost_pool_max_guests'), ['GridhostPoolAtMax']);
  t.is(rules.find((r) => r.alert === 'GridhostPoolAtMax')!.for, '10m');
});

test('every metric an alert uses is one gridhost exports', async (t) => {
  const families = await exportedFamilies();
  for (const r of alertRules()) {
    for (const name of metricNames(r.expr)) t.true(families.has(name), `${r.alert}: ${name} is not exported by gridhost`);
    t.truthy(r.labels?.severity, `${r.alert} has a severity`);
    t.truthy(r.annotations?.summary, `${r.alert} has a summary`);
  }
});
