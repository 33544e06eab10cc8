import test from 'ava';
import { PassThrough } from 'node:stream';
import { GridhostError } from '../errors/errors.ts';
import { LogMetricsTelemetry } from './log-metrics-telemetry.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';

function setup() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const metrics = createMetrics();
  const tel = new LogMetricsTelemetry(createLogger({ level: 'debug', format: 'json', stream }), metrics);
  const lines = async (): Promise<Record<string, unknown>[]> => {
    await new Promise((r) => setImmediate(r));
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  };
  return { tel, metrics, lines };
}

test('a scale event logs an event:"scale" line and counts once per event (not at started)', async (t) => {
  const { tel, metrics, lines } = setup();
  const base = { pool: 'web', direction: 'scale-out' as const, from: 2, to: 3, reason: 'cpu high' };
  tel.scaleEvent({ ...base, outcome: 'started' });
  tel.scaleEvent({ ...base, outcome: 'done', durationMs: 4200 });
  const [a, b] = await lines();
  t.like(a!, { event: 'scale', pool: 'web', action: 'scale-out', from: 2, to: 3, reason: 'cpu high', outcome: 'started' });
  t.like(b!, { event: 'scale', duration_ms: 4200, outcome: 'done', level: 'info' });
  const s = await metrics.registry.getSingleMetricAsString('gridhost_scale_events_total');
  t.true(s.includes('gridhost_scale_events_total{pool="web",direction="scale-out",outcome="done"} 1'), s);
  t.false(s.includes('outcome="started"'));
});

test('gridhost_scale_actions_total counts vertical (resize) and horizontal (scale-out, scale-in) actions apart, not replacements', async (t) => {
  const { tel, metrics } = setup();
  const base = { pool: 'web', from: 3, to: 3, reason: 'r' };
  tel.scaleEvent({ ...base, direction: 'resize', outcome: 'started' });
  tel.scaleEvent({ ...base, direction: 'resize', outcome: 'done' });
  tel.scaleEvent({ ...base, direction: 'resize', outcome: 'failed' });
  tel.scaleEvent({ ...base, direction: 'scale-out', to: 4, outcome: 'done' });
  tel.scaleEvent({ ...base, direction: 'scale-in', to: 2, outcome: 'done' });
  tel.scaleEvent({ ...base, direction: 'replace', outcome: 'done' });
  const s = await metrics.registry.getSingleMetricAsString('gridhost_scale_actions_total');
  t.true(s.includes('gridhost_scale_actions_total{pool="web",kind="vertical",outcome="done"} 1'), s);
  t.true(s.includes('gridhost_scale_actions_total{pool="web",kind="vertical",outcome="failed"} 1'), s);
  t.true(s.includes('gridhost_scale_actions_total{pool="web",kind="horizontal",outcome="done"} 2'), s);
  t.false(s.includes('outcome="started"'));
});

test('a guest step logs an event:"guest" line; a failed step is a warning carrying the error', async (t) => {
  const { tel, lines } = setup();
  tel.guestStep({ pool: 'web', guest: 'web-a1', action: 'boot', from: 'cloning', to: 'booting', durationMs: 10 });
  tel.guestStep({ pool: 'web', guest: 'web-a1', action: 'health', from: 'booting', to: 'failed', durationMs: 60000, reason: 'timeout', error: { code: 'GH_HEALTH_TIMEOUT', message: 'slow' } });
  const [a, b] = await lines();
  t.like(a!, { level: 'info', event: 'guest', pool: 'web', guest: 'web-a1', action: 'boot', from: 'cloning', to: 'booting', duration_ms: 10 });
  t.like(b!, { level: 'warn', event: 'guest', to: 'failed', reason: 'timeout', error: { code: 'GH_HEALTH_TIMEOUT', message: 'slow' } });
});

test('pool gauges, guest values, durations, failures and the breaker reach their metrics', async (t) => {
  const { tel, metrics, lines } = setup();
  tel.poolGauges({
    pool: 'web', byState: { healthy: 2, booting: 1 }, desired: 3, recommended: 5, min: 2, max: 8,
    rules: [{ rule: 'cpu', metric: 'cpu', strategy: 'target-tracking', value: 81.5, target: 75, series: [80, 81.5] }],
    mode: 'paused',
  });
  tel.guestValues('web', 'web-a1', { cpu: 40, rps: 5 });
  tel.provisioned('web', 'ok', 12);
  tel.retired('web', 'failed', 3);
  tel.launchFailure('web', new GridhostError('GH_BOOT_FAILED', 'exit 1'));
  tel.evaluationError('web', new Error('bad'));
  tel.breaker('web', true, '3 failures in a row');
  const all = await metrics.registry.metrics();
  for (const line of [
    'gridhost_guests{pool="web",state="healthy"} 2',
    'gridhost_guests{pool="web",state="booting"} 1',
    'gridhost_pool_desired_guests{pool="web"} 3',
    'gridhost_recommended_guests{pool="web"} 5',
    'gridhost_pool_min_guests{pool="web"} 2',
    'gridhost_pool_max_guests{pool="web"} 8',
    'gridhost_guest_cpu_ratio{pool="web",guest="web-a1"} 0.4',
    'gridhost_guest_load{pool="web",guest="web-a1",metric="rps"} 5',
    'gridhost_guest_provision_duration_seconds_sum{pool="web",outcome="ok"} 12',
    'gridhost_guest_retire_duration_seconds_sum{pool="web",outcome="failed"} 3',
    'gridhost_launch_failures_total{pool="web"} 1',
    'gridhost_policy_evaluation_errors_total{pool="web"} 1',
    'gridhost_circuit_breaker_open{pool="web"} 1',
    'gridhost_rule_value{pool="web",rule="cpu",metric="cpu"} 81.5',
    'gridhost_rule_target{pool="web",rule="cpu",metric="cpu",kind="target"} 75',
    'gridhost_pool_mode{pool="web",mode="paused"} 1',
    'gridhost_pool_mode{pool="web",mode="auto"} 0',
  ]) {
    t.true(all.split('\n').includes(line), line);
  }
  const logged = await lines();
  t.like(logged.find((l) => l.msg === 'guest launch failed')!, { level: 'warn', pool: 'web', error: { code: 'GH_BOOT_FAILED', message: 'exit 1' } });
  t.like(logged.find((l) => String(l.msg).startsWith('policy evaluation failed'))!, { level: 'error', error: { code: 'GH_INTERNAL', message: 'bad' } });
  t.like(logged.find((l) => String(l.msg).startsWith('launch circuit breaker opened'))!, { level: 'error', event: 'breaker', detail: '3 failures in a row' });

  tel.breaker('web', false, 'half-open probe succeeded');
  t.true((await metrics.registry.metrics()).includes('gridhost_circuit_breaker_open{pool="web"} 0'));
  tel.forgetGuest('web', 'web-a1');
  t.false((await metrics.registry.metrics()).includes('guest="web-a1"'));
  tel.forgetPool('web');
  t.false((await metrics.registry.metrics()).includes('gridhost_pool_desired_guests{pool="web"}'));
  t.false((await metrics.registry.metrics()).includes('gridhost_rule_value{pool="web"'));
});

test('free-form lines go to the logger at their level, with secrets redacted', async (t) => {
  const { tel, lines } = setup();
  tel.info('gridhost starting', { config: { api: { token: 'T0K' } } });
  tel.warn('w');
  tel.error('e', { uri: 'mongodb://u:p4ss@h/db' });
  const l = await lines();
  t.deepEqual(
    l.map((x) => [x.level, x.msg]),
    [
      ['info', 'gridhost starting'],
      ['warn', 'w'],
      ['error', 'e'],
    ],
  );
  t.deepEqual(l[0]!.config, { api: { token: '[REDACTED]' } });
  t.is(l[2]!.uri, 'mongodb://u:***@h/db');
});
