import test from 'ava';
import type { PoolSample } from '../domain/types.ts';
import { aggregateSeries } from './aggregate.ts';
import { busyRule, guest, INTERVAL, makePolicy, makeView, NOW, rpsRule } from './test-helpers.ts';

test('booting guests are excluded from averages (warm-up)', (t) => {
  const policy = makePolicy({ rules: [busyRule()], warmupMs: 10_000 });
  const guests = [
    guest('web-1', 'healthy'), // warmed up long ago: counts
    guest('web-2', 'booting'),
    guest('web-3', 'cloning'),
    guest('web-4', 'draining'), // warmed up long ago, but on its way out
    guest('web-6', 'stopping'),
    guest('web-5', 'healthy', NOW - 5_000), // healthy but still warming up
  ];
  const samples = [{ at: NOW, guests: { 'web-1': { cpu: 80 }, 'web-2': { cpu: 0 }, 'web-3': { cpu: 0 }, 'web-4': { cpu: 0 }, 'web-5': { cpu: 0 }, 'web-6': { cpu: 0 } } }];
  const agg = aggregateSeries(policy, makeView({ guests, samples }));
  t.deepEqual(agg.rules['busy']!.series, [80]);
  t.is(agg.rules['busy']!.ready, 1);
  t.is(agg.ready, 1);
});

test('a guest counts from healthyAt + warmup on (inclusive)', (t) => {
  const policy = makePolicy({ rules: [busyRule()], warmupMs: 10_000 });
  const guests = [guest('web-1', 'healthy'), guest('web-2', 'healthy', NOW - 10_000)];
  const samples = [
    { at: NOW - INTERVAL, guests: { 'web-1': { cpu: 20 }, 'web-2': { cpu: 80 } } }, // web-2 still warming
    { at: NOW, guests: { 'web-1': { cpu: 20 }, 'web-2': { cpu: 80 } } }, // web-2 exactly warmed up
  ];
  const agg = aggregateSeries(policy, makeView({ guests, samples }));
  t.deepEqual(agg.rules['busy']!.series, [20, 50]);
  t.deepEqual(agg.eligible, [1, 2]);
});

test('a tick where no eligible guest reported the metric is null', (t) => {
  const policy = makePolicy({ rules: [busyRule(), rpsRule()] });
  const guests = [guest('web-1', 'healthy'), guest('web-2', 'healthy')];
  const samples: PoolSample[] = [
    { at: NOW - INTERVAL, guests: { 'web-1': { cpu: 50 } } }, // web-2 could not be sampled
    { at: NOW, guests: { 'web-1': { cpu: 40, rps: 10 }, 'web-2': { cpu: 60, rps: 30 } } },
  ];
  const agg = aggregateSeries(policy, makeView({ guests, samples }));
  t.deepEqual(agg.rules['busy']!.series, [50, 50]);
  t.deepEqual(agg.rules['rps']!.series, [null, 20]);
  t.is(agg.rules['rps']!.ready, 2);
  t.deepEqual(agg.eligible, [2, 2]);
});

test('mean, max and sum combine the eligible guests of a tick', (t) => {
  const guests = [guest('web-1', 'healthy'), guest('web-2', 'healthy'), guest('web-3', 'healthy')];
  const samples = [{ at: NOW, guests: { 'web-1': { cpu: 10 }, 'web-2': { cpu: 30 }, 'web-3': { cpu: 80 } } }];
  const cases = [
    { aggregate: 'mean' as const, value: 40 },
    { aggregate: 'max' as const, value: 80 },
    { aggregate: 'sum' as const, value: 120 },
  ];
  for (const c of cases) {
    const agg = aggregateSeries(makePolicy({ rules: [busyRule({ aggregate: c.aggregate })] }), makeView({ guests, samples }));
    t.deepEqual(agg.rules['busy']!.series, [c.value], c.aggregate);
  }
});

test('the ticks option keeps only the latest ticks', (t) => {
  const guests = [guest('web-1', 'healthy')];
  const samples = [1, 2, 3, 4].map((v, i) => ({ at: NOW - (3 - i) * INTERVAL, guests: { 'web-1': { cpu: v } } }));
  const agg = aggregateSeries(makePolicy({ rules: [busyRule()] }), makeView({ guests, samples }), { ticks: 2 });
  t.deepEqual(agg.rules['busy']!.series, [3, 4]);
});
