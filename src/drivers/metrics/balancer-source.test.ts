import test from 'ava';
import type { Guest } from '../../domain/types.ts';
import { GridhostError } from '../../errors/errors.ts';
import { FakeBalancer } from '../balancer/fake-balancer.ts';
import { emptyStats } from '../balancer/serving-stats.ts';
import type { ServingStats } from '../balancer/balancer.ts';
import { BalancerSource, balancerValues } from './balancer-source.ts';

const bounds = [0.01, 0.1, 1];
const stats = (patch: Partial<ServingStats>): ServingStats => ({ ...emptyStats(), latency: { bounds, counts: [0, 0, 0, 0], sum: 0 }, queueTime: { bounds, counts: [0, 0, 0, 0], sum: 0 }, inFlightSeconds: 0, ...patch });

test('over an interval: requests per second, mean in flight from its integral, mean queue time, p95 latency, 5xx share', (t) => {
  const prev = stats({ requests: 100, inFlightSeconds: 10, responses: { '1xx': 0, '2xx': 90, '3xx': 0, '4xx': 0, '5xx': 10 } });
  const cur = stats({
    requests: 150,
    inFlight: 9,
    inFlightSeconds: 30, // 20 request-seconds in 5 s: 4 in flight on average
    responses: { '1xx': 0, '2xx': 130, '3xx': 0, '4xx': 10, '5xx': 10 }, // 50 answered, none 5xx
    queueTime: { bounds, counts: [50, 0, 0, 0], sum: 0.25 }, // 50 tries, 5 ms each
    latency: { bounds, counts: [0, 50, 0, 0], sum: 2 }, // all in (10 ms, 100 ms]
  });
  const v = balancerValues(prev, cur, 5000)!;
  t.is(v['balancer:rps'], 10);
  t.is(v['balancer:inflight'], 4, 'the mean, not the 9 in flight at the end');
  t.true(Math.abs(v['balancer:queue_ms']! - 5) < 1e-9);
  t.true(Math.abs(v['balancer:latency_p95_ms']! - (10 + 0.95 * 90)) < 1e-6);
  t.is(v['balancer:http_5xx_ratio'], 0);
});

test('the 5xx share counts the 502/504 the balancer answered for the guest', (t) => {
  const v = balancerValues(stats({}), stats({ requests: 4, responses: { '1xx': 0, '2xx': 3, '3xx': 0, '4xx': 0, '5xx': 1 } }), 1000)!;
  t.is(v['balancer:http_5xx_ratio'], 0.25);
});

test('an interval without requests has 0 rps, queue time, latency and 5xx share', (t) => {
  const v = balancerValues(stats({ requests: 5 }), stats({ requests: 5 }), 1000)!;
  t.deepEqual(v, { 'balancer:rps': 0, 'balancer:inflight': 0, 'balancer:queue_ms': 0, 'balancer:latency_p95_ms': 0, 'balancer:http_5xx_ratio': 0 });
});

test('without a time integral the current in flight is used; without a latency histogram there is no p95', (t) => {
  const bare = { ...emptyStats(), inFlight: 3 };
  const v = balancerValues({ ...emptyStats() }, bare, 1000)!;
  t.is(v['balancer:inflight'], 3);
  t.false('balancer:latency_p95_ms' in v);
});

test('counters that went down (the backend was re-added) or no elapsed time give no values', (t) => {
  t.is(balancerValues(stats({ requests: 10 }), stats({ requests: 2 }), 1000), undefined);
  t.is(balancerValues(stats({}), stats({}), 0), undefined);
});

const guest = (id: string, pool = 'web'): Guest => ({ id, pool, state: 'healthy', driver: 'local', host: 'localhost', address: `127.0.0.1:${id.length + 1000}`, createdAt: 0, updatedAt: 0, meta: {} });

test('the source reports a guest from its second sample on, per pool, and forgets guests no longer asked about', async (t) => {
  let now = 0;
  const lb = new FakeBalancer();
  await lb.ensurePool('web', '127.0.0.1:8080', '/healthz');
  await lb.ensurePool('api', '127.0.0.1:8081', '/healthz');
  await lb.add('web', 'w1', guest('w1').address!);
  await lb.add('api', 'a1', guest('a1', 'api').address!);
  const src = new BalancerSource(lb, { now: () => now });
  t.deepEqual([...(await src.sample([guest('w1'), guest('a1', 'api')])).keys()], [], 'first sight: nothing to measure yet');
  now = 2000;
  lb.setStats('web', 'w1', { requests: 20 });
  lb.setStats('api', 'a1', { requests: 4 });
  const second = await src.sample([guest('w1'), guest('a1', 'api')]);
  t.is(second.get('w1')?.['balancer:rps'], 10);
  t.is(second.get('a1')?.['balancer:rps'], 2);
  // Sampling one pool alone does not make the other forget its guests.
  now = 3000;
  await src.sample([guest('w1')]);
  now = 4000;
  lb.setStats('api', 'a1', { requests: 8 });
  t.is((await src.sample([guest('a1', 'api')])).get('a1')?.['balancer:rps'], 2);
});

test('a balancer that cannot report any asked pool rejects GH_HOST_UNREACHABLE (the whole source is down)', async (t) => {
  const lb = new FakeBalancer();
  const src = new BalancerSource(lb);
  const err = await t.throwsAsync(src.sample([guest('w1')]));
  t.true(err instanceof GridhostError);
  t.is((err as GridhostError).code, 'GH_HOST_UNREACHABLE');
  t.deepEqual([...(await src.sample([])).keys()], [], 'asked about nobody: nothing to fail');
});
