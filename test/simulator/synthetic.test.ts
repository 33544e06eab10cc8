import test from 'ava';
import { diurnalTrace, mulberry32, rampTrace, spikeTrace, stepTrace } from '../../src/simulator/synthetic.ts';

test('mulberry32: same seed gives the same sequence, another seed another one', (t) => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const sa = [a(), a(), a()];
  t.deepEqual(sa, [b(), b(), b()]);
  t.notDeepEqual(sa, [c(), c(), c()]);
  for (const v of sa) t.true(v >= 0 && v < 1);
});

const generators = {
  step: (seed: number) => stepTrace({ seconds: 600, low: 10, high: 100, at: 300, noise: 0.2, seed }),
  ramp: (seed: number) => rampTrace({ seconds: 600, from: 10, to: 100, start: 100, end: 500, noise: 0.2, seed }),
  spike: (seed: number) => spikeTrace({ seconds: 600, base: 10, peak: 200, at: 100, rise: 30, decay: 120, noise: 0.2, seed }),
  diurnal: (seed: number) => diurnalTrace({ seconds: 86_400, low: 5, high: 100, noise: 0.1, seed, stepSeconds: 60 }),
};
for (const [name, gen] of Object.entries(generators)) {
  test(`${name}: same seed => same trace, different seed => different trace`, (t) => {
    t.deepEqual(Array.from(gen(7).values), Array.from(gen(7).values));
    t.notDeepEqual(Array.from(gen(7).values), Array.from(gen(8).values));
    for (const v of gen(7).values) t.true(v >= 0);
  });
}

test('step is low before `at` and high from `at` on', (t) => {
  const v = stepTrace({ seconds: 10, low: 1, high: 5, at: 4 }).values;
  t.deepEqual(Array.from(v), [1, 1, 1, 1, 5, 5, 5, 5, 5, 5]);
});

test('ramp is linear between start and end and flat outside', (t) => {
  const v = rampTrace({ seconds: 6, from: 0, to: 40, start: 1, end: 5 }).values;
  t.deepEqual(Array.from(v), [0, 0, 10, 20, 30, 40]);
});

test('spike rises to its peak, then decays towards base', (t) => {
  const v = spikeTrace({ seconds: 1000, base: 10, peak: 110, at: 100, rise: 10, decay: 100 }).values;
  t.is(v[99], 10);
  t.is(v[110], 110);
  t.true(Math.abs(v[210]! - (10 + 100 * Math.exp(-1))) < 1e-9);
  t.true(v[999]! < 11);
});

test('diurnal is lowest at the trough hour and highest twelve hours later', (t) => {
  const v = diurnalTrace({ seconds: 86_400, low: 5, high: 100, troughHour: 4, stepSeconds: 3600 }).values;
  t.is(v.length, 24);
  t.true(Math.abs(v[4]! - 5) < 1e-9);
  t.true(Math.abs(v[16]! - 100) < 1e-9);
});

test('stepSeconds sets the number of values and the trace step', (t) => {
  const tr = stepTrace({ seconds: 60, low: 1, high: 2, at: 30, stepSeconds: 5 });
  t.is(tr.values.length, 12);
  t.is(tr.stepSeconds, 5);
});
