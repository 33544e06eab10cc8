import test from 'ava';
import { LATENCY_BOUNDS, ServingCounter, statusClass } from './serving-counter.ts';

for (const [status, cls] of [[100, '1xx'], [200, '2xx'], [204, '2xx'], [304, '3xx'], [404, '4xx'], [503, '5xx'], [599, '5xx'], [0, '5xx'], [700, '5xx']] as const) {
  test(`status ${status} counts as ${cls} (anything outside 1xx-5xx as 5xx, like HAProxy's hrsp_other)`, (t) => {
    t.is(statusClass(status), cls);
  });
}

test('a counter snapshot is a copy: later requests do not change it', (t) => {
  const c = new ServingCounter();
  c.requests++;
  c.response(200);
  const s = c.snapshot();
  c.response(500);
  t.is(s.responses['2xx'], 1);
  t.is(s.responses['5xx'], 0);
  t.is(c.snapshot().responses['5xx'], 1);
});

test('latency observations land in the first bucket whose bound they do not exceed', (t) => {
  const c = new ServingCounter();
  const now = performance.now();
  c.observeLatency(now); // ~0 s: first bucket
  c.observeLatency(now - 70_000); // 70 s: past the last bound, the +Inf bucket
  const h = c.snapshot().latency!;
  t.deepEqual(h.bounds, LATENCY_BOUNDS);
  t.is(h.counts.length, LATENCY_BOUNDS.length + 1);
  t.is(h.counts[0], 1);
  t.is(h.counts[LATENCY_BOUNDS.length], 1);
  t.true(h.sum >= 70);
});

test('in flight is a gauge and its time integral only grows while requests are in flight', async (t) => {
  const c = new ServingCounter();
  const idle0 = c.snapshot().inFlightSeconds!;
  await new Promise((r) => setTimeout(r, 30));
  t.is(c.snapshot().inFlightSeconds, idle0, 'no request in flight: the integral stays');
  c.inFlightBy(1);
  c.inFlightBy(1);
  t.is(c.snapshot().inFlight, 2);
  await new Promise((r) => setTimeout(r, 30));
  const busy = c.snapshot().inFlightSeconds!;
  t.true(busy > idle0);
  c.inFlightBy(-1);
  c.inFlightBy(-1);
  const after = c.snapshot().inFlightSeconds!;
  await new Promise((r) => setTimeout(r, 30));
  t.is(c.snapshot().inFlightSeconds, after);
  t.is(c.snapshot().inFlight, 0);
});
