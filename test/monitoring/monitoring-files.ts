// The monitoring bundle shipped in deploy/ (Prometheus config, alert rules, Grafana dashboard),
// read the way the tests need it: every PromQL expression and the metric names it uses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createMetrics } from '../../src/observability/metrics.ts';
import { REPO } from '../e2e/harness.ts';

export const PROMETHEUS_DIR = join(REPO, 'deploy', 'prometheus');
export const PROMETHEUS_YML = join(PROMETHEUS_DIR, 'prometheus.yml');
export const ALERTS_YML = join(PROMETHEUS_DIR, 'gridhost-alerts.yml');
export const ALERTS_TEST_YML = join(PROMETHEUS_DIR, 'gridhost-alerts.test.yml');
export const DASHBOARD_JSON = join(REPO, 'deploy', 'grafana', 'gridhost-dashboard.json');

export interface AlertRule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }

export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(ALERTS_YML, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

export interface Panel { id: number; type: string; title: string; datasource?: unknown; targets?: { expr: string; datasource?: unknown }[]; panels?: Panel[] }
export interface Dashboard { uid: string; panels: Panel[]; annotations: { list: { name: string; expr?: string; datasource?: unknown }[] }; templating: { list: { name: string; query: unknown }[] } }

export function dashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_JSON, 'utf8')) as Dashboard;
}

export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every PromQL expression of the dashboard: panel targets and annotations, with their place. */
export function dashboardExprs(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of allPanels(d)) for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  for (const a of d.annotations.list) if (a.expr) out.push({ where: `annotation "${a.name}"`, expr: a.expr });
  return out;
}

/** Grafana's variables as a query for a single pool would see them. */
export function substituteGrafanaVars(expr: string, pool: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s').replaceAll('$pool', pool);
}

/** gridhost_* names used in an expression (histogram series reduced to their family). */
export function metricNames(expr: string): string[] {
  const names = expr.match(/\bgridhost_[a-z0-9_]+/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')))];
}

/** Every metric family a gridhost process exports (its own and the default process metrics). */
export async function exportedFamilies(): Promise<Set<string>> {
  const m = createMetrics();
  return new Set((await m.registry.getMetricsAsJSON()).map((x) => x.name));
}
