import test from 'ava';
import type { Step } from '../../domain/policy.ts';
import { busyRule, idleRule } from '../test-helpers.ts';
import { stepDelta, threshold } from './threshold.ts';

const run = (config: ReturnType<typeof busyRule>, series: (number | null)[], current = 3) =>
  threshold({ config, series, current, ready: current, eligible: current, coming: 0 });

test('bounds are exclusive: a value equal to the bound does not trigger', (t) => {
  const cases: { name: string; rule: ReturnType<typeof busyRule>; series: number[]; triggers: boolean }[] = [
    { name: 'above, one equal', rule: busyRule({ above: 70 }), series: [71, 70, 71], triggers: false },
    { name: 'above, all equal', rule: busyRule({ above: 70 }), series: [70, 70, 70], triggers: false },
    { name: 'above, just over', rule: busyRule({ above: 70 }), series: [70.1, 70.01, 71], triggers: true },
    { name: 'below, one equal', rule: idleRule({ below: 15 }), series: [14, 15, 14], triggers: false },
    { name: 'below, just under', rule: idleRule({ below: 15 }), series: [14.9, 14.99, 0], triggers: true },
  ];
  for (const c of cases) t.is(run(c.rule, c.series) !== undefined, c.triggers, c.name);
});

test('only the last `for` samples must all cross the bound', (t) => {
  t.truthy(run(busyRule(), [10, 80, 80, 80]), 'older low sample ignored');
  t.is(run(busyRule(), [80, 80, 60, 80]), undefined, 'a low sample inside the window');
  t.is(run(busyRule({ for: 1 }), [10, 10, 71])?.desired, 4);
});

test('a null among the last `for` samples or too few samples means no opinion', (t) => {
  t.is(run(busyRule(), [90, null, 90]), undefined);
  t.is(run(busyRule(), [90, 90]), undefined);
  t.is(run(busyRule(), []), undefined);
});

test('a count step adds or removes that many guests', (t) => {
  t.is(run(busyRule({ step: { kind: 'count', value: 2 } }), [90, 90, 90], 3)?.desired, 5);
  t.is(run(idleRule({ step: { kind: 'count', value: -1 } }), [1, 1, 1], 3)?.desired, 2);
});

test('a percentage step moves at least one guest', (t) => {
  const cases: { step: Step; current: number; delta: number }[] = [
    { step: { kind: 'percent', value: 50 }, current: 3, delta: 2 }, // 1.5 -> 2
    { step: { kind: 'percent', value: -25 }, current: 3, delta: -1 }, // 0.75 -> 1
    { step: { kind: 'percent', value: 10 }, current: 2, delta: 1 }, // 0.2 -> 1
    { step: { kind: 'percent', value: -10 }, current: 8, delta: -1 }, // 0.8 -> 1
    { step: { kind: 'percent', value: 50 }, current: 4, delta: 2 }, // exact
    { step: { kind: 'percent', value: 100 }, current: 3, delta: 3 },
    { step: { kind: 'percent', value: 50 }, current: 0, delta: 1 }, // empty pool still moves
    { step: { kind: 'percent', value: 10 }, current: 30, delta: 3 }, // 3.0000000000000004 stays 3
  ];
  for (const c of cases) t.is(stepDelta(c.step, c.current), c.delta, `${c.step.value}% of ${c.current}`);
  t.is(run(busyRule({ step: { kind: 'percent', value: 50 } }), [90, 90, 90], 3)?.desired, 5);
  t.is(run(idleRule({ step: { kind: 'percent', value: -25 } }), [1, 1, 1], 3)?.desired, 2);
});

test('a step never asks for fewer than zero guests', (t) => {
  t.is(run(idleRule({ step: { kind: 'count', value: -5 } }), [1, 1, 1], 2)?.desired, 0);
});

test('the reason names the metric, bound and samples', (t) => {
  t.is(run(busyRule(), [84.0, 79.5, 85.9])?.reason, 'cpu mean 83.1% > 70% for 3 samples (84.0, 79.5, 85.9)');
  t.is(
    run(idleRule({ metric: 'rps', aggregate: 'sum', below: 5.5, for: 2 }), [4, 3.25])?.reason,
    'rps sum 3.6 < 5.5 for 2 samples (4.0, 3.3)',
  );
  t.is(run(busyRule({ metric: 'load', aggregate: 'max', above: 2, for: 1 }), [2.5])?.reason, 'load max 2.5 > 2 for 1 sample (2.5)');
});
