import test from 'ava';
import { adaptations, demandCurve, elasticity } from '../../src/simulator/bungee.ts';

// Hand-computed case: dt = 10 s, T = 40 s.
//   step      0    1    2    3
//   demand    2    3    3    4
//   supply    2    2    4    4
//   load     50  100  100  150
const demand = [2, 3, 3, 4];
const supply = [2, 2, 4, 4];
const load = [50, 100, 100, 150];
const m = elasticity({ demand, supply, load, stepSeconds: 10 });

test('accuracy_U = sum(max(d-s,0)*dt)/T: (1*10)/40 = 0.25', (t) => {
  t.is(m.accuracyU, 0.25);
});

test('accuracy_O = sum(max(s-d,0)*dt)/T: (1*10)/40 = 0.25', (t) => {
  t.is(m.accuracyO, 0.25);
});

test('timeshare_U = sum(dt where s<d)/T: 10/40 and timeshare_O = sum(dt where s>d)/T: 10/40', (t) => {
  t.is(m.timeshareU, 0.25);
  t.is(m.timeshareO, 0.25);
});

test('jitter = (E_s - E_d) per minute: supply 1 change, demand 2 changes in 2/3 min => 1.5 - 3 = -1.5', (t) => {
  t.is(m.demandAdaptationsPerMin, 3);
  t.is(m.supplyAdaptationsPerMin, 1.5);
  t.is(m.jitter, -1.5);
});

test('guest-hours = sum(s*dt)/3600: (2+2+4+4)*10/3600', (t) => {
  t.is(m.guestHours, 120 / 3600);
  t.is(m.durationSeconds, 40);
});

test('under-provisioned requests = load during s<d / all load: 100/400', (t) => {
  t.is(m.underProvisionedRequests, 0.25);
});

test('scale actions default to the number of supply changes, and an explicit count wins', (t) => {
  t.is(m.scaleActions, 1);
  t.is(elasticity({ demand, supply, stepSeconds: 10, actions: 7 }).scaleActions, 7);
});

test('guest-hours use the billed series when given (booting guests cost money)', (t) => {
  const r = elasticity({ demand, supply, billed: [3, 3, 4, 4], stepSeconds: 3600 });
  t.is(r.guestHours, 14);
  t.is(r.accuracyU, 0.25); // under/over still come from supply
});

test('accuracy_U weighs by the size of the gap: missing 3 guests for one of two steps = 1.5', (t) => {
  const r = elasticity({ demand: [5, 5], supply: [2, 5], stepSeconds: 1 });
  t.is(r.accuracyU, 1.5);
  t.is(r.timeshareU, 0.5);
  t.is(r.accuracyO, 0);
});

test('a supply that oscillates around a flat demand has positive jitter', (t) => {
  const r = elasticity({ demand: [3, 3, 3, 3, 3, 3], supply: [3, 4, 3, 4, 3, 4], stepSeconds: 10 });
  t.is(r.demandAdaptationsPerMin, 0);
  t.is(r.supplyAdaptationsPerMin, 5);
  t.is(r.jitter, 5);
});

test('series of different lengths are refused', (t) => {
  t.throws(() => elasticity({ demand: [1, 2], supply: [1], stepSeconds: 1 }), { instanceOf: RangeError });
});

test('an empty run has all metrics zero', (t) => {
  const r = elasticity({ demand: [], supply: [], stepSeconds: 1 });
  t.deepEqual([r.accuracyU, r.timeshareU, r.jitter, r.guestHours], [0, 0, 0, 0]);
});

test('adaptations counts changes, not steps', (t) => {
  t.is(adaptations([1, 1, 2, 2, 1]), 2);
  t.is(adaptations([4]), 0);
});

test('demand = ceil(load/capacity) clamped to [min, max]', (t) => {
  t.deepEqual(Array.from(demandCurve([0, 40, 41, 320, 320.00000000000006, 1000], 40, 2, 8)), [2, 2, 2, 8, 8, 8]);
  t.deepEqual(Array.from(demandCurve([81, 121], 40, 1, 10)), [3, 4]);
});
