// Overload well above a pool's capacity, with real guests: more connections than the guests can
// serve, guests that serve one request at a time (so, overloaded, their health checks and metrics
// reads time out). The pool must grow to max on what the balancer sees (requests in flight,
// saturated guests), the front end must keep answering (fail-open, not 503 for everyone), and
// the requests that fail must be counted by gridhost and bounded.
//
// The bound: with fail-open no request is refused for want of a backend (503), so a request can
// only fail by waiting longer than balancer.response_timeout for its guest (504). The test holds
// the pool at max for a while and requires at most 2% of all requests to fail, every one of them
// a 5xx gridhost counted (gridhost_balancer_responses_total{code="5xx"}), none of them a 503.
import test from 'ava';
import { closedLoopLoad, freePort, getJson, request, sleep, startGridhost, waitUntil } from './harness.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'hot';
const MAX = 4;
const CONNECTIONS = 96;
const BOUND = 0.02;

const policy = (lbPort: number) => `pool: ${POOL}
min: 2
max: ${MAX}
guest:
  driver: local
  template: hot.local.yaml
  image: images/web
  boot_timeout: 30s
  stop_timeout: 2s
  drain_timeout: 5s
balancer:
  listen: 127.0.0.1:${lbPort}
  check:
    interval: 500ms
    timeout: 500ms
  response_timeout: 8s
sampling:
  interval: 1s
  window: 30s
warmup: 0s
scale_out:
  cooldown: 2s
scale_in:
  cooldown: 60s
  stabilization: 5m
rules:
  - name: rps
    strategy: target-tracking
    metric: rps
    target: 25
  - name: inflight
    strategy: target-tracking
    source: balancer
    metric: inflight
    target: 3
`;

// One request at a time, 30 ms of CPU each: about 33 requests/s per guest at best.
const TEMPLATE = webTemplate(30, { SLICE_MS: '30' });

const counted = (v: any) => (v.counts.cloning ?? 0) + (v.counts.booting ?? 0) + (v.counts.healthy ?? 0);

test('overload well above capacity drives the pool to max on what the balancer sees; failures are counted and stay under 2%', async (t) => {
  t.timeout(300_000);
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'hot.yaml': policy(lbPort) }, templates: { 'hot.local.yaml': TEMPLATE } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  const view = async () => (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
  await waitUntil(async () => (await view()).counts.healthy === 2, 60_000, 'two healthy guests');

  const started = Date.now();
  const load = closedLoopLoad(`http://127.0.0.1:${lbPort}/`, CONNECTIONS);
  await waitUntil(async () => (await view()).counts.healthy === MAX, 150_000, `${MAX} healthy guests under overload`, 250);
  const toMax = Date.now() - started;
  await sleep(10_000); // held at max, still overloaded
  const atMax = await view();
  await load.stop();
  const metrics = (await request(`${gh.api}/metrics`)).body;

  const total = load.stats.ok + load.stats.failed;
  const fiveXx = Number(new RegExp(`gridhost_balancer_responses_total\\{pool="${POOL}",code="5xx"\\} (\\d+)`).exec(metrics)?.[1] ?? NaN);
  const noBackend = Number(new RegExp(`gridhost_balancer_no_backend_total\\{pool="${POOL}"\\} (\\d+)`).exec(metrics)?.[1] ?? NaN);
  t.log(`${CONNECTIONS} connections: ${total} requests, ${load.stats.failed} failed (${((100 * load.stats.failed) / total).toFixed(2)}%), 2 -> ${MAX} in ${(toMax / 1000).toFixed(1)} s; gridhost counted ${fiveXx} 5xx, ${noBackend} without a backend`);

  t.is(counted(atMax), MAX, 'at max, never above');
  t.true(total > 500, `${total} requests`);
  t.true(load.stats.failed <= BOUND * total, `${load.stats.failed} of ${total} failed: ${load.stats.errors.slice(0, 5).join('; ')}`);
  t.is(noBackend, 0, 'fail-open: never 503 for want of a backend');
  t.false(load.stats.errors.some((e) => e.startsWith('503')), 'no 503 reached a client');
  t.is(fiveXx, load.stats.failed, 'every failure a client saw is a 5xx gridhost counted');
  const events = (await getJson(`${gh.api}/api/events?pool=${POOL}&limit=100`)).json.events as any[];
  const outs = events.filter((e) => e.direction === 'scale-out' && e.outcome === 'done' && e.from >= 2);
  t.true(outs.length > 0);
  t.true(outs.some((e) => /inflight mean|saturated/.test(e.reason)), `scaled on what the balancer sees: ${outs.map((e) => e.reason).join(' | ')}`);
  // Guests that are only busy (checks timing out behind real work, requests still completing)
  // are not sick: replacing them would churn guests and could overshoot max.
  const replaced = events.filter((e) => e.direction === 'replace');
  t.deepEqual(replaced.map((e) => e.reason), [], 'no busy guest replaced');
});
