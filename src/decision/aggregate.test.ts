import test from 'ava';
import type { PoolSample } from '../domain/types.ts';
import { reporters, ruleValue, windowOf } from './aggregate.ts';
import { busyRule, guest, INTERVAL, makePolicy, NOW, rpsRule } from './test-helpers.ts';

test('booting, cloning, draining, stopping and warming-up guests are left out (warm-up)', (t) => {
  const policy = makePolicy({ rules: [busyRule()], warmupMs: 10_000 });
  const guests = [
    guest('web-1', 'healthy'), // warmed up long ago: counts
    guest('web-2', 'booting'),
    guest('web-3', 'cloning'),
    guest('web-4', 'draining'), // warmed up long ago, but on its way out
    guest('web-6', 'stopping'),
    guest('web-5', 'healthy', NOW - 5_000), // healthy but still warming up
  ];
  const sample = { at: NOW, guests: { 'web-1': { cpu: 80 }, 'web-2': { cpu: 0 }, 'web-3': { cpu: 0 }, 'web-4': { cpu: 0 }, 'web-5': { cpu: 0 }, 'web-6': { cpu: 0 } } };
  const tick = windowOf(policy, guests, [sample]);
  t.is(ruleValue(tick, 0, busyRule()), 80);
  t.is(reporters(tick, 0, 'cpu'), 1);
  t.deepEqual(tick.eligible, [1]);
});

test('a guest counts from healthyAt + warmup on (inclusive)', (t) => {
  const policy = makePolicy({ rules: [busyRule()], warmupMs: 10_000 });
  const guests = [guest('web-1', 'healthy'), guest('web-2', 'healthy', NOW - 10_000)];
  const early = windowOf(policy, guests, [{ at: NOW - INTERVAL, guests: { 'web-1': { cpu: 20 }, 'web-2': { cpu: 80 } } }]); // web-2 still warming
  const onTime = windowOf(policy, guests, [{ at: NOW, guests: { 'web-1': { cpu: 20 }, 'web-2': { cpu: 80 } } }]); // exactly warmed up
  t.deepEqual([ruleValue(early, 0, busyRule()), ruleValue(onTime, 0, busyRule())], [20, 50]);
  t.deepEqual([early.eligible, onTime.eligible], [[1], [2]]);
});

test('a metric no eligible guest reported is null; guests that did not report are still eligible', (t) => {
  const policy = makePolicy({ rules: [busyRule(), rpsRule()] });
  const guests = [guest('web-1', 'healthy'), guest('web-2', 'healthy')];
  const partial: PoolSample = { at: NOW - INTERVAL, guests: { 'web-1': { cpu: 50 } } }; // web-2 could not be sampled
  const tick = windowOf(policy, guests, [partial]);
  t.is(ruleValue(tick, 0, busyRule()), 50);
  t.is(ruleValue(tick, 0, rpsRule()), null);
  t.deepEqual(tick.eligible, [2]);
  t.is(reporters(tick, 0, 'cpu'), 1);
  t.is(reporters(tick, 0, 'rps'), 0);
});

test('mean, max and sum combine the eligible guests of a tick', (t) => {
  const guests = [guest('web-1', 'healthy'), guest('web-2', 'healthy'), guest('web-3', 'healthy')];
  const tick = windowOf(makePolicy(), guests, [{ at: NOW, guests: { 'web-1': { cpu: 10 }, 'web-2': { cpu: 30 }, 'web-3': { cpu: 80 } } }]);
  const cases = [
    { aggregate: 'mean' as const, value: 40 },
    { aggregate: 'max' as const, value: 80 },
    { aggregate: 'sum' as const, value: 120 },
  ];
  for (const c of cases) t.is(ruleValue(tick, 0, busyRule({ aggregate: c.aggregate })), c.value, c.aggregate);
});

test('values of guests the pool does not know, and values that are not finite, are left out', (t) => {
  const guests = [guest('web-1', 'healthy'), guest('web-2', 'healthy')];
  const sample = { at: NOW, guests: { 'web-1': { cpu: 40 }, 'web-2': { cpu: Number.NaN }, 'web-9': { cpu: 100 } } };
  const tick = windowOf(makePolicy(), guests, [sample]);
  t.is(ruleValue(tick, 0, busyRule()), 40);
  t.is(reporters(tick, 0, 'cpu'), 1);
  t.deepEqual(tick.eligible, [2]);
});

test('the window is columnar: a metric first reported later has empty entries before, one no longer reported gets empty ones after', (t) => {
  const guests = [guest('web-1', 'healthy')];
  const w = windowOf(makePolicy(), guests, [
    { at: NOW - 2 * INTERVAL, guests: { 'web-1': { cpu: 10 } } },
    { at: NOW - INTERVAL, guests: { 'web-1': { cpu: 20, rps: 5 } } },
    { at: NOW, guests: { 'web-1': { rps: 7 } } },
  ]);
  t.deepEqual(w.at, [NOW - 2 * INTERVAL, NOW - INTERVAL, NOW]);
  t.deepEqual(w.metrics['cpu'], { sum: [10, 20, 0], max: [10, 20, 0], count: [1, 1, 0] });
  t.deepEqual(w.metrics['rps'], { sum: [0, 5, 7], max: [0, 5, 7], count: [0, 1, 1] });
  t.deepEqual([0, 1, 2].map((i) => ruleValue(w, i, busyRule())), [10, 20, null]);
  t.deepEqual(JSON.parse(JSON.stringify(w)), w);
});
