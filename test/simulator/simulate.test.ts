import test from 'ava';
import { busyRule, idleRule, makePolicy } from '../../src/decision/test-helpers.ts';
import { DEFAULT_START, simulate, type SimOptions } from '../../src/simulator/simulate.ts';
import { stepTrace } from '../../src/simulator/synthetic.ts';

// Threshold policy: +1 when cpu mean > 70 for 3 ticks, -1 when < 15 for 3 ticks, 5 s ticks.
const policy = makePolicy({
  rules: [busyRule(), idleRule()],
  scaleOut: { cooldownMs: 0 },
  scaleIn: { cooldownMs: 0, stabilizationMs: 0 },
  warmupMs: 0,
});

function run(o: Partial<SimOptions> & { trace: ArrayLike<number> }) {
  return simulate({ policy, stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, seed: 1, ...o });
}

test('the same seed gives the same run; noise comes only from the seed', (t) => {
  const trace = stepTrace({ seconds: 3600, low: 40, high: 250, at: 600, noise: 0.3, seed: 9 }).values;
  const a = run({ trace, noise: 0.2, seed: 5 });
  const b = run({ trace, noise: 0.2, seed: 5 });
  t.deepEqual(Array.from(a.supply), Array.from(b.supply));
  t.deepEqual(a.metrics, b.metrics);
  t.deepEqual(a.actions.map((d) => [d.at, d.to]), b.actions.map((d) => [d.at, d.to]));
});

test('a different seed changes a run that sits on a threshold', (t) => {
  // 2 guests x 35 rps = 70% cpu, exactly on the bound: the noise decides each crossing.
  const trace = new Float64Array(3600).fill(70);
  const runs = [1, 2, 3].map((seed) => run({ trace, noise: 0.1, seed }).actions.map((d) => d.at).join(','));
  t.true(new Set(runs).size > 1, runs.join(' | '));
});

test('scale-out comes from the real decide(): its reason names the rule and samples', (t) => {
  // 2 guests, 90 rps each -> cpu 100% from the start.
  const r = run({ trace: new Float64Array(120).fill(180) });
  const first = r.actions[0]!;
  t.is(first.direction, 'scale-out');
  t.is(first.from, 2);
  t.is(first.to, 3);
  t.is(first.at, DEFAULT_START + 15_000); // third 5 s tick
  t.regex(first.reason, /^scale-out 2 -> 3: cpu mean 100\.0% > 70% for 3 samples/);
});

test('a new guest is paid for from the decision but serves only after boot + health delay', (t) => {
  const r = run({ trace: new Float64Array(120).fill(180) });
  const at = (r.actions[0]!.at - DEFAULT_START) / 1000; // 15 s
  const up = at + 30 + 5; // 50 s
  // The decision at 15 s is made at the end of step [14, 15): billing starts with step 15.
  t.is(r.billed[at - 1], 2);
  t.is(r.billed[at], 3);
  t.is(r.supply[at], 2);
  t.is(r.supply[up - 1], 2);
  t.is(r.supply[up], 3);
});

test('decide() holds while a guest boots: no second scale-out during the boot', (t) => {
  const r = run({ trace: new Float64Array(120).fill(400) });
  const outs = r.actions.filter((d) => d.direction === 'scale-out').map((d) => (d.at - DEFAULT_START) / 1000);
  t.is(outs[0], 15);
  // The guest is healthy at 15 + 35 = 50 s; the cpu stays > 70%, so the next scale-out is at that tick, not earlier.
  t.is(outs[1], 50);
});

test('a scale-in drains the guest: supply drops at once, billing after the drain delay', (t) => {
  // 4 guests, 10 rps -> cpu 5% < 15: -1 at the third tick (15 s).
  const r = run({ trace: new Float64Array(60).fill(10), initialGuests: 4, drainSeconds: 10 });
  const first = r.actions[0]!;
  t.is(first.direction, 'scale-in');
  const at = (first.at - DEFAULT_START) / 1000;
  t.is(at, 15);
  t.is(r.supply[at - 1], 4);
  t.is(r.supply[at], 3);
  t.is(r.billed[at + 9], 4);
  t.is(r.billed[at + 10], 3);
});

test('demand is clamp(ceil(load / capacity), min, max)', (t) => {
  const r = run({ trace: Float64Array.from([0, 49, 101, 150, 151, 1000]) });
  t.deepEqual(Array.from(r.demand), [2, 2, 3, 3, 4, 8]);
});

test('metrics are computed from the run: guest-hours from billed guests, timeshare_U from supply < demand', (t) => {
  const r = run({ trace: new Float64Array(3600).fill(180) });
  const billedSum = Array.from(r.billed).reduce((a, b) => a + b, 0);
  t.is(r.metrics.guestHours, billedSum / 3600);
  const under = Array.from(r.supply).filter((s, i) => s < r.demand[i]!).length;
  t.is(r.metrics.timeshareU, under / 3600);
  t.is(r.metrics.scaleActions, r.actions.length);
  t.true(r.metrics.timeshareU > 0); // demand 4 from the start, 2 guests: under-provisioned until scaled
});

test('a coarse trace step still ticks at the policy interval', (t) => {
  // 60 s steps, 5 s policy interval: 12 ticks per step.
  const r = simulate({ policy, trace: new Float64Array(10).fill(60), stepSeconds: 60, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0 });
  t.is(r.ticks, 120);
});
