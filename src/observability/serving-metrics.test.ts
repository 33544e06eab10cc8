import test from 'ava';
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import type { PoolServing } from '../drivers/balancer/balancer.ts';
import { emptyStats } from '../drivers/balancer/serving-stats.ts';
import { registerServingMetrics } from './serving-metrics.ts';

const snap = (): PoolServing => ({
  pool: 'web',
  frontend: { ...emptyStats(), requests: 12, responses: { '1xx': 0, '2xx': 9, '3xx': 0, '4xx': 1, '5xx': 2 }, upstreamTimeouts: 1, inFlight: 3, latency: { bounds: [0.1, 1], counts: [7, 3, 2], sum: 4.5 } },
  noBackend: 1,
  failOpen: false,
  failOpenEntered: 2,
  backends: [{
    id: 'web-1', address: '127.0.0.1:1', admin: 'ready', healthy: true, active: 2, served: 10, failed: 1, downs: 1,
    stats: { ...emptyStats(), requests: 11, responses: { '1xx': 0, '2xx': 9, '3xx': 0, '4xx': 1, '5xx': 1 }, upstreamErrors: 1, inFlight: 2, queued: 1, latency: { bounds: [0.1, 1], counts: [9, 1, 0], sum: 1 }, queueTime: { bounds: [0.1, 1], counts: [11, 0, 0], sum: 0.01 } },
  }],
});

async function scrape(figures: () => PoolServing[], onError?: (pool: string, e: unknown) => void): Promise<{ text: string; calls: number }> {
  const registry = new Registry();
  let calls = 0;
  registerServingMetrics(registry).attach({
    pools: () => figures().map((s) => s.pool),
    serving: async (pool) => {
      calls++;
      const s = figures().find((x) => x.pool === pool);
      if (!s) throw new Error(`no pool ${pool}`);
      return s;
    },
  }, onError);
  return { text: await registry.metrics(), calls };
}

test('serving figures become pool and backend series, one balancer read per pool per scrape', async (t) => {
  const { text, calls } = await scrape(() => [snap()]);
  t.is(calls, 1);
  for (const line of [
    'gridhost_balancer_requests_total{pool="web"} 12',
    'gridhost_balancer_responses_total{pool="web",code="5xx"} 2',
    'gridhost_balancer_upstream_timeouts_total{pool="web"} 1',
    'gridhost_balancer_no_backend_total{pool="web"} 1',
    'gridhost_balancer_requests_in_flight{pool="web"} 3',
    'gridhost_balancer_request_duration_seconds_bucket{pool="web",le="0.1"} 7',
    'gridhost_balancer_request_duration_seconds_bucket{pool="web",le="1"} 10',
    'gridhost_balancer_request_duration_seconds_bucket{pool="web",le="+Inf"} 12',
    'gridhost_balancer_request_duration_seconds_count{pool="web"} 12',
    'gridhost_balancer_request_duration_seconds_sum{pool="web"} 4.5',
    'gridhost_balancer_fail_open{pool="web"} 0',
    'gridhost_balancer_fail_open_total{pool="web"} 2',
    'gridhost_pool_serving{pool="web"} 1',
    'gridhost_balancer_backend_requests_total{pool="web",backend="web-1"} 11',
    'gridhost_balancer_backend_responses_total{pool="web",backend="web-1",code="2xx"} 9',
    'gridhost_balancer_backend_upstream_errors_total{pool="web",backend="web-1"} 1',
    'gridhost_balancer_backend_requests_in_flight{pool="web",backend="web-1"} 2',
    'gridhost_balancer_backend_requests_queued{pool="web",backend="web-1"} 1',
    'gridhost_balancer_backend_queue_duration_seconds_count{pool="web",backend="web-1"} 11',
    'gridhost_balancer_backend_up{pool="web",backend="web-1"} 1',
    'gridhost_balancer_backend_downs_total{pool="web",backend="web-1"} 1',
  ]) t.true(text.split('\n').includes(line), line);
});

test('a pool without a healthy backend exports gridhost_pool_serving 0 and its backend as down', async (t) => {
  const s = snap();
  s.backends[0]!.healthy = false;
  const { text } = await scrape(() => [s]);
  t.true(text.includes('gridhost_pool_serving{pool="web"} 0'));
  t.true(text.includes('gridhost_balancer_backend_up{pool="web",backend="web-1"} 0'));
});

test('a pool the balancer cannot report is left out of that scrape, and said', async (t) => {
  const errors: string[] = [];
  const registry = new Registry();
  registerServingMetrics(registry).attach({ pools: () => ['web', 'gone'], serving: async (p) => { if (p === 'gone') throw new Error('no front end'); return snap(); } }, (pool) => errors.push(pool));
  const text = await registry.metrics();
  t.true(text.includes('gridhost_pool_serving{pool="web"} 1'));
  t.false(text.includes('pool="gone"'));
  t.deepEqual(errors, ['gone']);
});

test('the exposition passes promtool check metrics', async (t) => {
  const { text } = await scrape(() => [snap()]);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.is(lint.error, undefined, 'promtool runs (scripts/ensure-packages.sh installs prometheus)');
  t.is(`${lint.stdout}${lint.stderr}`, '');
  t.is(lint.status, 0);
});

test('before a balancer is attached the series are declared (so alert rules can name them) but empty', async (t) => {
  const registry = new Registry();
  registerServingMetrics(registry);
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
  t.true(names.includes('gridhost_pool_serving'));
  t.true(names.includes('gridhost_balancer_backend_request_duration_seconds'));
  t.false((await registry.metrics()).includes('pool="'));
});
