// PrometheusQuery against a real Prometheus on loopback that scrapes a real exporter (a tiny
// HTTP server in this test), plus servers that misbehave the ways a network does.
import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { PrometheusQuery } from '../../../src/drivers/prometheus/prometheus-query.ts';
import { renderQuery } from '../../../src/drivers/prometheus/promql-template.ts';
import { isGridhostError } from '../../../src/errors/errors.ts';
import { freePort, waitUntil } from '../../e2e/harness.ts';
import { startPrometheus, type RunningPrometheus } from '../../fixtures/prometheus/start-prometheus.ts';

const EXPORTED = [
  '# TYPE demo_value gauge',
  'demo_value{kind="a"} 3',
  'demo_value{kind="b"} 4',
  '# TYPE demo_pool_rps gauge',
  'demo_pool_rps{pool="web"} 12.5',
  'demo_pool_rps{pool="api"} 99',
  '',
].join('\n');

function listen(server: http.Server | net.Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

let prom: RunningPrometheus;
let exporter: http.Server;

test.before(async () => {
  exporter = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(EXPORTED));
  const port = await listen(exporter);
  prom = await startPrometheus({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    scrape_configs: [{ job_name: 'demo', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }],
  });
  await waitUntil(async () => ((await prom.query('demo_pool_rps')).data?.result.length ?? 0) === 2, 30_000, 'first scrape', 250);
});

test.after.always(async () => {
  await prom?.stop();
  exporter?.close();
});

async function failure(t: { fail: (m: string) => void }, p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isGridhostError(e) && e.code === 'GH_QUERY_FAILED') return e.message;
    throw e;
  }
  t.fail('resolved');
  return '';
}

test('a query returning one series gives its value; {{pool}} selects the pool', async (t) => {
  const q = new PrometheusQuery({ url: prom.url, timeoutMs: 5000 });
  t.is(await q.query(renderQuery('demo_pool_rps{pool="{{pool}}"}', 'web')), 12.5);
  t.is(await q.query(renderQuery('demo_pool_rps{pool="{{pool}}"}', 'api')), 99);
  t.is(await q.query('sum(demo_value)'), 7);
});

test('a scalar answer is a value; NaN (an idle pool\'s 0/0) and no series are missing', async (t) => {
  const q = new PrometheusQuery({ url: `${prom.url}/`, timeoutMs: 5000 });
  t.is(await q.query('scalar(sum(demo_value)) * 2'), 14);
  t.is(await q.query('0 / 0'), undefined);
  t.is(await q.query('demo_pool_rps{pool="nope"}'), undefined);
  t.is(await q.query('demo_missing_metric'), undefined);
});

test('more than one series, a range vector or a string is refused with what to do', async (t) => {
  const q = new PrometheusQuery({ url: prom.url, timeoutMs: 5000 });
  t.regex(await failure(t, q.query('demo_value')), /returned 2 series; a rule needs one number \(aggregate it/);
  t.regex(await failure(t, q.query('demo_value[1m]')), /range vector; a rule needs an instant value/);
  t.regex(await failure(t, q.query('"text"')), /returned a string/);
});

test('a PromQL error is reported with Prometheus\'s own words', async (t) => {
  const q = new PrometheusQuery({ url: prom.url, timeoutMs: 5000 });
  const m = await failure(t, q.query('sum(demo_value'));
  t.regex(m, /HTTP 400 bad_data/);
  t.regex(m, /unclosed left parenthesis|unexpected end of input/);
});

test('a server that does not answer in time, a closed port and a non-Prometheus answer fail as GH_QUERY_FAILED', async (t) => {
  const silent = net.createServer(() => {}); // accepts and never answers
  const silentPort = await listen(silent);
  const html = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hi</html>'));
  const htmlPort = await listen(html);
  t.teardown(() => {
    silent.close();
    html.close();
  });
  t.regex(await failure(t, new PrometheusQuery({ url: `http://127.0.0.1:${silentPort}`, timeoutMs: 300 }).query('up')), /no answer within 300 ms/);
  const closed = await freePort();
  t.regex(await failure(t, new PrometheusQuery({ url: `http://127.0.0.1:${closed}`, timeoutMs: 1000 }).query('up')), /ECONNREFUSED/);
  t.regex(await failure(t, new PrometheusQuery({ url: `http://127.0.0.1:${htmlPort}`, timeoutMs: 1000 }).query('up')), /not a Prometheus API answer/);
});

test('credentials in the URL go as basic auth and never into an error message', async (t) => {
  let auth: string | undefined;
  let path: string | undefined;
  const server = http.createServer((req, res) => {
    auth = req.headers.authorization;
    path = req.url;
    res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'not ready' }));
  });
  const port = await listen(server);
  t.teardown(() => server.close());
  const q = new PrometheusQuery({ url: `http://gh:s3cret@127.0.0.1:${port}/prom`, timeoutMs: 2000 });
  const m = await failure(t, q.query('sum(x{pool="web"})'));
  t.is(auth, `Basic ${Buffer.from('gh:s3cret').toString('base64')}`);
  t.is(path, `/prom/api/v1/query?query=${encodeURIComponent('sum(x{pool="web"})')}`);
  t.regex(m, /HTTP 503 unavailable: not ready/);
  t.notRegex(m, /s3cret/);
  t.notRegex(q.shownUrl, /s3cret/);
});
