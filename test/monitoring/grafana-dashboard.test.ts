// The Grafana dashboard shipped in deploy/grafana/: well-formed, every query on the chosen
// Prometheus data source and on metrics gridhost exports, and the panels operators asked for.
// (test/monitoring/prometheus-scrape.test.ts runs every one of its queries on a real Prometheus.)
import test from 'ava';
import { allPanels, dashboard, dashboardExprs, exportedFamilies, metricNames } from './monitoring-files.ts';

test('panel ids are unique and every query uses the dashboard\'s datasource variable', (t) => {
  const d = dashboard();
  const ids = allPanels(d).map((p) => p.id);
  t.is(new Set(ids).size, ids.length);
  t.is(d.uid, 'gridhost');
  t.truthy(d.templating.list.find((v) => v.name === 'datasource'));
  t.truthy(d.templating.list.find((v) => v.name === 'pool'));
  for (const p of allPanels(d)) {
    if (p.type === 'row') continue;
    t.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
    t.true((p.targets ?? []).length > 0, `${p.title} has queries`);
    for (const q of p.targets ?? []) t.deepEqual(q.datasource, { type: 'prometheus', uid: '${datasource}' }, p.title);
  }
});

test('every metric a panel or annotation queries is one gridhost exports', async (t) => {
  const families = await exportedFamilies();
  const exprs = dashboardExprs(dashboard());
  t.true(exprs.length > 10);
  for (const { where, expr } of exprs) {
    const names = metricNames(expr);
    t.true(names.length > 0, `${where} queries a gridhost metric`);
    for (const n of names) t.true(families.has(n), `${where}: ${n} is not exported by gridhost`);
  }
});

test('the dashboard shows sizes against bounds, rules against targets, the recommendation, scale events as annotations, lifecycle latency and the breaker', (t) => {
  const d = dashboard();
  const panelUsing = (metric: string) => allPanels(d).filter((p) => (p.targets ?? []).some((q) => metricNames(q.expr).includes(metric)));
  const size = panelUsing('gridhost_pool_max_guests');
  t.is(size.length, 1);
  t.deepEqual(panelUsing('gridhost_pool_min_guests'), size, 'min and max are drawn against the size');
  t.true(panelUsing('gridhost_guests').includes(size[0]!));
  t.deepEqual(panelUsing('gridhost_recommended_guests'), size, 'what the decision core recommends (mode: recommend) is drawn against the size');
  const rules = panelUsing('gridhost_rule_value');
  t.is(rules.length, 1);
  t.deepEqual(panelUsing('gridhost_rule_target'), rules, 'each rule\'s value is drawn against its target');
  t.is(panelUsing('gridhost_guest_provision_duration_seconds').length, 1);
  t.is(panelUsing('gridhost_guest_retire_duration_seconds').length, 1);
  t.is(panelUsing('gridhost_circuit_breaker_open').length, 1);
  const ann = d.annotations.list.filter((a) => a.expr !== undefined && metricNames(a.expr).includes('gridhost_scale_events_total'));
  t.is(ann.length, 1, 'scale events are annotations');
});

test('the dashboard shows what clients get: responses by status class, in flight, latency p95, backends up/down, the pool\'s serving state and auto-heal', (t) => {
  const d = dashboard();
  const exprsOf = (metric: string) => allPanels(d).flatMap((p) => (p.targets ?? []).filter((q) => metricNames(q.expr).includes(metric)).map((q) => q.expr));
  t.true(exprsOf('gridhost_balancer_responses_total').some((e) => /by \(pool, code\)/.test(e)), 'responses split by status class');
  t.true(exprsOf('gridhost_balancer_requests_in_flight').length > 0);
  t.true(exprsOf('gridhost_balancer_request_duration_seconds').some((e) => e.startsWith('histogram_quantile(0.95,')), 'client latency p95 from the histogram');
  t.true(exprsOf('gridhost_balancer_backend_up').length > 0, 'each backend up or down');
  t.true(exprsOf('gridhost_pool_serving').length > 0, 'the pool serving or not');
  t.true(exprsOf('gridhost_balancer_fail_open').length > 0, 'failing open shown with it');
  t.true(exprsOf('gridhost_guest_replacements_total').length > 0, 'auto-heal replacements');
  t.true(exprsOf('gridhost_guests_sick_total').length > 0, 'guests found sick');
  t.true(exprsOf('gridhost_balancer_upstream_timeouts_total').length > 0);
});
