import test from 'ava';
import { busyRule, idleRule, makePolicy } from '../../src/decision/test-helpers.ts';
import { DEFAULT_START, simulate, type SimOptions } from '../../src/simulator/simulate.ts';
import { stepTrace } from '../../src/simulator/synthetic.ts';

// Threshold policy: +1 when cpu mean > 70 for 3 ticks, -1 when < 15 for 3 ticks, 5 s ticks.
const policy = makePolicy({
  rules: [busyRule(), idleRule()],
  scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
  scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
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
  t.is(first.action, 'scale-out');
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
  const outs = r.actions.filter((d) => d.action === 'scale-out').map((d) => (d.at - DEFAULT_START) / 1000);
  t.is(outs[0], 15);
  // The guest is healthy at 15 + 35 = 50 s; the cpu stays > 70%, so the next scale-out is at that tick, not earlier.
  t.is(outs[1], 50);
});

test('a cooldown starts when the action has finished, as in the pool loop: a scale-out once its guests serve', (t) => {
  const cooled = makePolicy({ ...policy, scaleOut: { cooldownMs: 20_000, whileBooting: 'hold' } });
  const r = simulate({ policy: cooled, trace: new Float64Array(200).fill(400), stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0 });
  const outs = r.actions.filter((d) => d.action === 'scale-out').map((d) => (d.at - DEFAULT_START) / 1000);
  // Decided at 15 s, serving at 50 s, cooldown over at 70 s (not at 35 s, 20 s after the decision).
  t.deepEqual(outs.slice(0, 3), [15, 70, 125]);
});

test('a scale-in cooldown starts when the drained guest is gone', (t) => {
  const cooled = makePolicy({ ...policy, scaleIn: { cooldownMs: 20_000, stabilizationMs: 0, victims: 'newest' } });
  const r = simulate({ policy: cooled, trace: new Float64Array(120).fill(10), stepSeconds: 1, capacityPerGuest: 50, bootSeconds: 30, healthDelaySeconds: 5, noise: 0, initialGuests: 6, drainSeconds: 10 });
  // Decided at 15 s, gone at 25 s, cooldown over at 45 s.
  t.deepEqual(r.actions.map((d) => (d.at - DEFAULT_START) / 1000).slice(0, 3), [15, 45, 75]);
});

test('a scale-in drains the guest: supply drops at once, billing after the drain delay', (t) => {
  // 4 guests, 10 rps -> cpu 5% < 15: -1 at the third tick (15 s).
  const r = run({ trace: new Float64Array(60).fill(10), initialGuests: 4, drainSeconds: 10 });
  const first = r.actions[0]!;
  t.is(first.action, 'scale-in');
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

test('with recorded tick times a replay decides at those times only, from the load of the tick\'s step', (t) => {
  // Steps of 1 s whose ticks fired late and drifted (as a loaded machine's timers do); step 3
  // had no usable tick. cpu 100% from the start: the third tick decides (for: 3).
  const trace = new Float64Array(8).fill(180);
  const tickTimes = [1_030, 2_080, NaN, 4_260, 5_310, 6_390, 7_420, 8_480].map((ms) => DEFAULT_START + ms);
  const r = run({ trace, tickTimes });
  t.is(r.ticks, 7);
  t.is(r.actions[0]!.at, DEFAULT_START + 4_260);
  t.is(r.actions[0]!.action, 'scale-out');
  t.throws(() => run({ trace, tickTimes: tickTimes.slice(1) }), { instanceOf: RangeError });
});

test('the simulator retires the guests scale_in.victims names, through the actuator\'s pickVictims', (t) => {
  // 2 start guests (sim1, sim2), a burst grows the pool to 4 (sim3, sim4), then it shrinks to 2.
  const trace = new Float64Array(900);
  for (let i = 0; i < trace.length; i++) trace[i] = i >= 10 && i < 200 ? 180 : 10;
  const retiredWith = (victims: 'newest' | 'oldest') =>
    run({ trace, policy: makePolicy({ ...policy, scaleIn: { ...policy.scaleIn, victims } }) }).retired.flatMap((r) => r.guests);
  const newest = retiredWith('newest');
  const oldest = retiredWith('oldest');
  t.true(newest.length >= 2, newest.join(','));
  t.is(newest.length, oldest.length);
  // newest retires the guests the burst added; oldest the two the pool started with
  t.false(newest.includes('web-sim1') || newest.includes('web-sim2'), newest.join(','));
  t.deepEqual(oldest.slice(0, 2), ['web-sim1', 'web-sim2']);
});
