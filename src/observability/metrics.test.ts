import test from 'ava';
import { Registry } from 'prom-client';
import { createMetrics, type GridhostMetrics } from './metrics.ts';

async function text(m: GridhostMetrics, name: string): Promise<string> {
  return m.registry.getSingleMetricAsString(name);
}

const exposed: { name: string; act: (m: GridhostMetrics) => void; line: string }[] = [
  { name: 'gridhost_guests', act: (m) => m.guests.set({ pool: 'web', state: 'healthy' }, 3), line: 'gridhost_guests{pool="web",state="healthy"} 3' },
  { name: 'gridhost_pool_desired_guests', act: (m) => m.poolDesiredGuests.set({ pool: 'web' }, 4), line: 'gridhost_pool_desired_guests{pool="web"} 4' },
  { name: 'gridhost_pool_min_guests', act: (m) => m.poolMinGuests.set({ pool: 'web' }, 2), line: 'gridhost_pool_min_guests{pool="web"} 2' },
  { name: 'gridhost_pool_max_guests', act: (m) => m.poolMaxGuests.set({ pool: 'web' }, 8), line: 'gridhost_pool_max_guests{pool="web"} 8' },
  {
    name: 'gridhost_scale_events_total',
    act: (m) => m.scaleEvents.inc({ pool: 'web', direction: 'scale-out', outcome: 'done' }),
    line: 'gridhost_scale_events_total{pool="web",direction="scale-out",outcome="done"} 1',
  },
  {
    name: 'gridhost_guest_provision_duration_seconds',
    act: (m) => m.guestProvisionDuration.observe({ pool: 'web', outcome: 'ok' }, 42),
    line: 'gridhost_guest_provision_duration_seconds_sum{pool="web",outcome="ok"} 42',
  },
  {
    name: 'gridhost_guest_retire_duration_seconds',
    act: (m) => m.guestRetireDuration.observe({ pool: 'web', outcome: 'failed' }, 7),
    line: 'gridhost_guest_retire_duration_seconds_count{pool="web",outcome="failed"} 1',
  },
  { name: 'gridhost_guest_cpu_ratio', act: (m) => m.guestCpuRatio.set({ pool: 'web', guest: 'web-a1' }, 0.5), line: 'gridhost_guest_cpu_ratio{pool="web",guest="web-a1"} 0.5' },
  {
    name: 'gridhost_guest_load',
    act: (m) => m.guestLoad.set({ pool: 'web', guest: 'web-a1', metric: 'rps' }, 12),
    line: 'gridhost_guest_load{pool="web",guest="web-a1",metric="rps"} 12',
  },
  { name: 'gridhost_policy_evaluation_errors_total', act: (m) => m.policyEvaluationErrors.inc({ pool: 'web' }), line: 'gridhost_policy_evaluation_errors_total{pool="web"} 1' },
  { name: 'gridhost_policy_load_errors_total', act: (m) => m.policyLoadErrors.inc({ file: '/p/web.yaml' }), line: 'gridhost_policy_load_errors_total{file="/p/web.yaml"} 1' },
  { name: 'gridhost_launch_failures_total', act: (m) => m.launchFailures.inc({ pool: 'web' }), line: 'gridhost_launch_failures_total{pool="web"} 1' },
  { name: 'gridhost_warm_guests', act: (m) => m.warmGuests.set({ pool: 'web' }, 2), line: 'gridhost_warm_guests{pool="web"} 2' },
  { name: 'gridhost_warm_pool_target_guests', act: (m) => m.warmPoolTarget.set({ pool: 'web' }, 3), line: 'gridhost_warm_pool_target_guests{pool="web"} 3' },
  { name: 'gridhost_scale_out_guests_total', act: (m) => m.scaleOutGuests.inc({ pool: 'web', path: 'warm' }), line: 'gridhost_scale_out_guests_total{pool="web",path="warm"} 1' },
  {
    name: 'gridhost_scale_out_to_serving_seconds',
    act: (m) => m.scaleOutToServing.observe({ pool: 'web', path: 'cold' }, 3),
    line: 'gridhost_scale_out_to_serving_seconds_sum{pool="web",path="cold"} 3',
  },
  { name: 'gridhost_circuit_breaker_open', act: (m) => m.circuitBreakerOpen.set({ pool: 'web' }, 1), line: 'gridhost_circuit_breaker_open{pool="web"} 1' },
  {
    name: 'gridhost_driver_operation_duration_seconds',
    act: (m) => m.driverOperationDuration.observe({ driver: 'local', operation: 'clone', outcome: 'ok' }, 0.2),
    line: 'gridhost_driver_operation_duration_seconds_count{driver="local",operation="clone",outcome="ok"} 1',
  },
  {
    name: 'gridhost_rule_value',
    act: (m) => m.setRuleReadings('web', [{ rule: 'rps', metric: 'rps', strategy: 'target-tracking', value: 30, target: 45, series: [30] }]),
    line: 'gridhost_rule_value{pool="web",rule="rps",metric="rps"} 30',
  },
  {
    name: 'gridhost_rule_target',
    act: (m) => m.setRuleReadings('web', [{ rule: 'hot', metric: 'cpu', strategy: 'threshold', above: 70, series: [] }]),
    line: 'gridhost_rule_target{pool="web",rule="hot",metric="cpu",kind="above"} 70',
  },
  {
    name: 'gridhost_reconcile_repairs_total',
    act: (m) => m.reconcileRepairs.inc({ kind: 'undone' }, 2),
    line: 'gridhost_reconcile_repairs_total{kind="undone"} 2',
  },
  { name: 'gridhost_pool_mode', act: (m) => m.setPoolMode('web', 'manual'), line: 'gridhost_pool_mode{pool="web",mode="manual"} 1' },
  { name: 'gridhost_policy_file_invalid', act: (m) => m.policyFileInvalid.set({ file: '/p/bad.yaml' }, 1), line: 'gridhost_policy_file_invalid{file="/p/bad.yaml"} 1' },
];

for (const c of exposed) {
  test(`${c.name} is exposed with its labels`, async (t) => {
    const m = createMetrics();
    c.act(m);
    t.true((await text(m, c.name)).split('\n').includes(c.line), await text(m, c.name));
  });
}

test('every metric in the registry, default process metrics included, is prefixed gridhost_', async (t) => {
  const m = createMetrics();
  const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
  t.true(names.length > exposed.length);
  for (const n of names) t.true(n.startsWith('gridhost_'), n);
  t.true(names.includes('gridhost_process_cpu_user_seconds_total'));
  for (const c of exposed) t.true(names.includes(c.name), c.name);
});

test('lifecycle histograms have buckets from 0.1 s to 10 min', async (t) => {
  const m = createMetrics();
  m.guestProvisionDuration.observe({ pool: 'web', outcome: 'ok' }, 0.05);
  const s = await text(m, 'gridhost_guest_provision_duration_seconds');
  t.true(s.includes('gridhost_guest_provision_duration_seconds_bucket{le="0.1",pool="web",outcome="ok"} 1'), s);
  t.true(s.includes('le="600"'));
});

test('metrics go to the registry given, so two instances never collide', async (t) => {
  const r = new Registry();
  const a = createMetrics(r);
  const b = createMetrics();
  a.launchFailures.inc({ pool: 'web' });
  t.is(a.registry, r);
  t.true((await r.metrics()).includes('gridhost_launch_failures_total{pool="web"} 1'));
  t.false((await b.registry.metrics()).includes('gridhost_launch_failures_total{pool="web"}'));
});

test('setPoolGuests sets every state of the pool, the ones not given to 0', async (t) => {
  const m = createMetrics();
  m.setPoolGuests('web', { healthy: 3, booting: 1 });
  m.setPoolGuests('web', { healthy: 4 });
  const lines = (await text(m, 'gridhost_guests')).split('\n').filter((l) => l.startsWith('gridhost_guests{'));
  t.is(lines.length, 10, "one series per guest state");
  t.true(lines.includes('gridhost_guests{pool="web",state="sick"} 0'));
  t.true(lines.includes('gridhost_guests{pool="web",state="healthy"} 4'));
  t.true(lines.includes('gridhost_guests{pool="web",state="booting"} 0'));
});

test('setGuestValues turns cpu percent into a ratio and other keys into gridhost_guest_load', async (t) => {
  const m = createMetrics();
  m.setGuestValues('web', 'web-a1', { cpu: 85, rps: 12.5, inflight: 3 });
  t.true((await text(m, 'gridhost_guest_cpu_ratio')).includes('gridhost_guest_cpu_ratio{pool="web",guest="web-a1"} 0.85'));
  const load = await text(m, 'gridhost_guest_load');
  t.true(load.includes('gridhost_guest_load{pool="web",guest="web-a1",metric="rps"} 12.5'));
  t.true(load.includes('gridhost_guest_load{pool="web",guest="web-a1",metric="inflight"} 3'));
  t.false(load.includes('metric="cpu"'));
});

test('forgetGuest drops only that guest\'s series', async (t) => {
  const m = createMetrics();
  m.setGuestValues('web', 'web-a1', { cpu: 50, rps: 1 });
  m.setGuestValues('web', 'web-a2', { cpu: 60, rps: 2 });
  m.forgetGuest('web', 'web-a1');
  const all = await m.registry.metrics();
  t.false(all.includes('guest="web-a1"'));
  t.true(all.includes('gridhost_guest_cpu_ratio{pool="web",guest="web-a2"} 0.6'));
  t.true(all.includes('gridhost_guest_load{pool="web",guest="web-a2",metric="rps"} 2'));
});

test('forgetPool drops the pool\'s gauges and guests, keeps other pools and the counters', async (t) => {
  const m = createMetrics();
  for (const pool of ['web', 'api']) {
    m.setPoolGuests(pool, { healthy: 2 });
    m.poolDesiredGuests.set({ pool }, 2);
    m.poolMinGuests.set({ pool }, 2);
    m.poolMaxGuests.set({ pool }, 8);
    m.circuitBreakerOpen.set({ pool }, 0);
    m.setGuestValues(pool, `${pool}-1`, { cpu: 10, rps: 1 });
    m.launchFailures.inc({ pool });
  }
  m.forgetPool('web');
  const lines = (await m.registry.metrics()).split('\n').filter((l) => !l.startsWith('#') && l.includes('pool="web"'));
  t.deepEqual(lines, ['gridhost_launch_failures_total{pool="web"} 1']);
  const all = await m.registry.metrics();
  t.true(all.includes('gridhost_pool_desired_guests{pool="api"} 2'));
  t.true(all.includes('gridhost_guest_load{pool="api",guest="api-1",metric="rps"} 1'));
});

test('every reconcile repair kind is exported at 0 from the start, so increase() sees the first repair', async (t) => {
  const m = createMetrics();
  const lines = (await text(m, 'gridhost_reconcile_repairs_total')).split('\n');
  const kinds = ['adopted', 'undone', 'finished', 'record-gone', 'unknown-guest', 'orphan-clone', 'balancer-orphan', 'balancer-missing', 'sick', 'warm-adopted'];
  for (const kind of kinds) t.true(lines.includes(`gridhost_reconcile_repairs_total{kind="${kind}"} 0`), kind);
  t.is(lines.filter((l) => l.startsWith('gridhost_reconcile_repairs_total{')).length, kinds.length, 'one series per kind, no other label');
});

test('rule readings of a rule no longer reported lose their series; a missing value leaves only the target', async (t) => {
  const m = createMetrics();
  m.setRuleReadings('web', [
    { rule: 'cpu', metric: 'cpu', strategy: 'target-tracking', value: 50, target: 75, series: [50] },
    { rule: 'rps', metric: 'rps', strategy: 'threshold', value: 9, above: 40, below: 10, series: [9] },
  ]);
  m.setRuleReadings('other', [{ rule: 'cpu', metric: 'cpu', strategy: 'target-tracking', value: 1, target: 2, series: [1] }]);
  m.setRuleReadings('web', [{ rule: 'cpu', metric: 'cpu', strategy: 'target-tracking', target: 75, series: [] }]);
  const values = await text(m, 'gridhost_rule_value');
  const targets = await text(m, 'gridhost_rule_target');
  t.false(values.includes('pool="web"'), values);
  t.true(values.includes('gridhost_rule_value{pool="other",rule="cpu",metric="cpu"} 1'));
  t.true(targets.includes('gridhost_rule_target{pool="web",rule="cpu",metric="cpu",kind="target"} 75'));
  t.false(targets.includes('rule="rps"'), targets);
});
