import test from 'ava';
import { rpsRule } from '../test-helpers.ts';
import { targetTracking } from './target-tracking.ts';

test('target tracking holds inside the tolerance band', (t) => {
  // target 40, tolerance 0.1: the band is [36, 44], edges included
  for (const v of [36, 38, 40, 42, 44]) {
    const o = targetTracking({ config: rpsRule(), series: [v, v], current: 3, ready: 3, eligible: 3, coming: 0 });
    t.is(o?.desired, 3, `rps ${v}`);
    t.regex(o?.reason ?? '', /within tolerance 0\.1/);
  }
  t.is(targetTracking({ config: rpsRule(), series: [44.5, 44.5], current: 3, ready: 3, eligible: 3, coming: 0 })?.desired, 4);
  t.is(targetTracking({ config: rpsRule(), series: [35.5, 35.5], current: 3, ready: 3, eligible: 3, coming: 0 })?.desired, 3, 'ceil(3 x 0.89) = 3');
});

test('target tracking scales to ceil(ready x ratio)', (t) => {
  const cases = [
    { series: [60, 62.4], current: 3, ready: 3, desired: 5 }, // 61.2 / 40 = 1.53 -> 4.59 -> 5
    { series: [20, 20], current: 4, ready: 4, desired: 2 }, // 0.5 -> 2
    { series: [160 / 3, 160 / 3], current: 3, ready: 3, desired: 4 }, // exactly 4, not 5 from float noise
    { series: [80, 80], current: 2, ready: 2, desired: 4 },
    { series: [5, 5], current: 8, ready: 8, desired: 1 },
  ];
  for (const c of cases) {
    t.is(targetTracking({ config: rpsRule(), series: c.series, current: c.current, ready: c.ready, eligible: c.ready, coming: 0 })?.desired, c.desired, JSON.stringify(c));
  }
  t.is(
    targetTracking({ config: rpsRule(), series: [60, 62.4], current: 3, ready: 3, eligible: 3, coming: 0 })?.reason,
    'rps mean 61.2 / target 40 = 1.53 -> ceil(3 x 1.53) = 5',
  );
});

test('target tracking averages the last `for` values, skipping nulls', (t) => {
  t.is(targetTracking({ config: rpsRule({ for: 3 }), series: [1000, 80, null, 80], current: 2, ready: 2, eligible: 2, coming: 0 })?.desired, 4);
  t.is(targetTracking({ config: rpsRule({ for: 2 }), series: [80, null, null], current: 2, ready: 2, eligible: 2, coming: 0 }), undefined);
});

test('target tracking has no opinion when no guest is ready', (t) => {
  t.is(targetTracking({ config: rpsRule(), series: [80, 80], current: 3, ready: 0, eligible: 0, coming: 0 }), undefined);
});

test('target tracking with aggregate sum asks for ceil(sum / target)', (t) => {
  const o = targetTracking({ config: rpsRule({ aggregate: 'sum' }), series: [183.6, 183.6], current: 3, ready: 3, eligible: 3, coming: 0 });
  t.is(o?.desired, 5);
  t.is(o?.reason, 'rps sum 183.6 / target 40 = 4.59 -> ceil(4.59) = 5');
  // 118 / 40 / 3 guests = 0.98 per guest: inside the band
  t.is(targetTracking({ config: rpsRule({ aggregate: 'sum' }), series: [118, 118], current: 3, ready: 3, eligible: 3, coming: 0 })?.desired, 3);
  t.is(targetTracking({ config: rpsRule({ aggregate: 'sum' }), series: [30, 30], current: 4, ready: 4, eligible: 4, coming: 0 })?.desired, 1);
});

test('warming-up guests count as idle when scaling out and as on target when scaling in', (t) => {
  // 5 counted, 3 ready at ratio 1.2: ceil(3.6) = 4 < 5, so no scale-in against the load
  t.is(targetTracking({ config: rpsRule(), series: [48, 48], current: 5, ready: 3, eligible: 3, coming: 0 })?.desired, 5);
  // 5 counted, 2 ready at ratio 0.5: ceil(2 x 0.5 + 3) = 4, not ceil(1) = 1
  t.is(targetTracking({ config: rpsRule(), series: [20, 20], current: 5, ready: 2, eligible: 2, coming: 0 })?.desired, 4);
  // 3 counted, 2 ready at ratio 2: ceil(4) = 4
  t.is(targetTracking({ config: rpsRule(), series: [80, 80], current: 3, ready: 2, eligible: 2, coming: 0 })?.desired, 4);
});
