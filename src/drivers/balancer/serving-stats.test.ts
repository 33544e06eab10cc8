import test from 'ava';
import type { BackendServing, DurationHistogram, PoolServing } from './balancer.ts';
import { emptyStats, histogramDelta, histogramQuantile, responsesTotal, servingState } from './serving-stats.ts';

const h = (counts: number[], sum = 0): DurationHistogram => ({ bounds: [0.1, 0.2, 0.4], counts, sum });

test('the quantile interpolates inside its bucket as histogram_quantile does', (t) => {
  // 10 observations in (0.1, 0.2]: the median is halfway through that bucket.
  t.true(Math.abs(histogramQuantile(h([0, 10, 0, 0]), 0.5)! - 0.15) < 1e-9);
  // 95 in the first bucket, 5 in the second: p95 is the first bucket's upper bound.
  t.is(histogramQuantile(h([95, 5, 0, 0]), 0.95), 0.1);
  t.true(Math.abs(histogramQuantile(h([90, 10, 0, 0]), 0.95)! - 0.15) < 1e-9);
});

test('a quantile in the +Inf bucket is the highest finite bound; an empty histogram has none', (t) => {
  t.is(histogramQuantile(h([0, 0, 0, 4]), 0.95), 0.4);
  t.is(histogramQuantile(h([0, 0, 0, 0]), 0.95), undefined);
});

test('the delta of two histograms is per bucket; a counter that went down (re-added backend) gives none', (t) => {
  t.deepEqual(histogramDelta(h([5, 3, 1, 0], 2), h([2, 3, 0, 0], 1)), h([3, 0, 1, 0], 1));
  t.is(histogramDelta(h([1, 0, 0, 0]), h([2, 0, 0, 0])), undefined);
  t.is(histogramDelta(h([1, 0, 0, 0]), { bounds: [1], counts: [0, 0], sum: 0 }), undefined, 'different buckets');
  t.deepEqual(histogramDelta(h([1, 0, 0, 0]), undefined), h([1, 0, 0, 0]));
});

test('responsesTotal adds every status class', (t) => {
  t.is(responsesTotal({ '1xx': 1, '2xx': 2, '3xx': 3, '4xx': 4, '5xx': 5 }), 15);
});

const backend = (id: string, patch: Partial<BackendServing> = {}): BackendServing => ({
  id, address: `127.0.0.1:${id.length}`, admin: 'ready', healthy: true, active: 0, served: 0, failed: 0, downs: 0, stats: emptyStats(), ...patch,
});
const pool = (backends: BackendServing[], patch: Partial<PoolServing> = {}): PoolServing => ({
  pool: 'web', frontend: emptyStats(), noBackend: 0, failOpen: false, failOpenEntered: 0, backends, ...patch,
});

test('a pool with a healthy ready backend serves, with no reason given', (t) => {
  t.deepEqual(servingState(pool([backend('a'), backend('b', { healthy: false })])), { serving: true, failOpen: false, healthy: 1, backends: 2 });
});

test('a pool with no healthy backend does not serve, and the reason names each backend\'s last check', (t) => {
  const s = servingState(pool([
    backend('a', { healthy: false, lastCheck: { at: 1, ok: false, detail: 'HTTP 503' } }),
    backend('b', { healthy: false }),
  ]));
  t.false(s.serving);
  t.regex(s.reason!, /a: failed \(HTTP 503\)/);
  t.regex(s.reason!, /b: not checked yet/);
});

test('a pool in fail-open serves but says so', (t) => {
  const s = servingState(pool([backend('a', { healthy: false })], { failOpen: true }));
  t.true(s.serving);
  t.true(s.failOpen);
  t.regex(s.reason!, /fail-open: 0 of 1/);
});

test('an empty pool and an all-draining pool do not serve, each saying why', (t) => {
  t.regex(servingState(pool([])).reason!, /no backend is registered/);
  t.regex(servingState(pool([backend('a', { admin: 'drain' })])).reason!, /all 1 backends are draining/);
});
