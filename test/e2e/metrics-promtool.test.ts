// /metrics of a real running gridhost must pass Prometheus' own linter (`promtool check
// metrics`, Debian's prometheus package) with no output at all: any line it prints is a
// naming or format problem a Prometheus user would trip over.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { freePort, request, sleep, startGridhost } from './harness.ts';
import { monitoredPoolPolicy } from '../monitoring/monitored-pool-policy.ts';

test('GET /metrics of a running gridhost with healthy guests passes promtool check metrics silently', async (t) => {
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'lint.yaml': monitoredPoolPolicy('lint', lbPort) } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  // Wait until the guests serve, have been sampled and the next tick has exported them, so
  // per-guest, per-pool and driver series (gauges, counters, histograms) are all present.
  const lb = `http://127.0.0.1:${lbPort}/`;
  const deadline = Date.now() + 60_000;
  let metrics = await request(`${gh.api}/metrics`);
  while (!metrics.body.includes('gridhost_guests{pool="lint",state="healthy"} 2') || !metrics.body.includes('gridhost_guest_cpu_ratio{') || !/gridhost_balancer_responses_total\{pool="lint",code="2xx"\} [1-9]/.test(metrics.body)) {
    if (Date.now() > deadline) return t.fail(`guests never showed as healthy in /metrics:\n${metrics.body.split('\n').filter((l) => l.startsWith('gridhost_guests')).join('\n')}`);
    await request(lb).catch(() => undefined);
    await sleep(250);
    metrics = await request(`${gh.api}/metrics`);
  }
  t.is(metrics.status, 200);
  t.true(metrics.body.includes('gridhost_guest_provision_duration_seconds_bucket'), 'a lifecycle histogram is exported');
  // The balancer's serving series, per pool and per backend, histograms included.
  for (const series of ['gridhost_pool_serving{pool="lint"} 1', 'gridhost_balancer_responses_total{pool="lint",code="2xx"}', 'gridhost_balancer_request_duration_seconds_bucket{pool="lint",le="+Inf"}', 'gridhost_balancer_backend_request_duration_seconds_bucket{pool="lint",backend=', 'gridhost_balancer_backend_up{pool="lint",backend=']) {
    t.true(metrics.body.includes(series), `${series} is exported`);
  }

  const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8' });
  t.is(lint.error, undefined, 'promtool runs (scripts/ensure-packages.sh installs prometheus)');
  t.is(`${lint.stdout}${lint.stderr}`, '', 'promtool prints nothing');
  t.is(lint.status, 0);
});
