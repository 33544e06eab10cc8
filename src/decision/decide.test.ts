import test from 'ava';
import type { Policy } from '../domain/policy.ts';
import { desiredSize, type Direction, type GuestState } from '../domain/types.ts';
import { cooldownRemaining, decide } from './decide.ts';
import type { PoolView } from './decide-types.ts';
import { busyRule, campaign, cpuTicks, guest, healthy, idleRule, makePolicy, makeView, NOW, rpsRule, ticks } from './test-helpers.ts';

const SEC = 1000;
const ids = (n: number) => healthy(n).map((g) => g.id);
/** A pool of n warmed-up guests whose cpu followed `cpu` (oldest first). */
const cpuView = (n: number, cpu: (number | null)[], extra: Partial<PoolView> = {}) =>
  makeView({ guests: healthy(n), samples: cpuTicks(ids(n), cpu), ...extra });
const hot = [90, 90, 90];
const cold = [5, 5, 5];
/** busy/idle rules and no stabilization, so a single tick decides. */
const basic = (overrides: Partial<Policy> = {}) =>
  makePolicy({ rules: [busyRule(), idleRule()], scaleIn: { cooldownMs: 60_000, stabilizationMs: 0, victims: 'newest' }, ...overrides });

test('the reason names the metric, bound and samples', (t) => {
  const r = decide(basic(), cpuView(3, [84.0, 79.5, 85.9]), NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(r.decision.from, 3);
  t.is(desiredSize(r.decision), 4);
  t.is(r.decision.reason, 'scale-out 3 -> 4: cpu mean 83.1% > 70% for 3 samples (84.0, 79.5, 85.9)');
  const round = (xs: number[] | undefined) => xs?.map((x) => Math.round(x * 1000) / 1000);
  t.deepEqual(round(r.decision.inputs.series['busy']), [84.0, 79.5, 85.9]);
  t.deepEqual(round(r.decision.inputs.series['idle']), [84.0, 79.5, 85.9]);
  t.deepEqual({ ...r.decision.inputs, series: {} }, {
    series: {},
    min: 2,
    max: 8,
    schedules: [],
    recommended: 4,
    rule: 'busy',
  });
  t.deepEqual(r.recommendation, { at: NOW, desired: 4 });
  t.is(r.decision.pool, 'web');
  t.is(r.decision.at, NOW);
});

test('a change in flight holds the pool', (t) => {
  const cases: { states: GuestState[]; reason: string }[] = [
    { states: ['booting'], reason: 'change in flight: 1 guest booting' },
    { states: ['cloning'], reason: 'change in flight: 1 guest cloning' },
    { states: ['draining'], reason: 'change in flight: 1 guest draining' },
    { states: ['stopping'], reason: 'change in flight: 1 guest stopping' },
    { states: ['booting', 'draining', 'booting'], reason: 'change in flight: 2 guests booting, 1 guest draining' },
  ];
  for (const c of cases) {
    const guests = [...healthy(3), ...c.states.map((s, i) => guest(`web-x${i}`, s))];
    const r = decide(basic(), makeView({ guests, samples: cpuTicks(ids(3), hot) }), NOW);
    t.is(r.decision.action, 'hold', c.reason);
    t.is(desiredSize(r.decision), r.decision.from);
    t.is(r.decision.reason, c.reason);
    t.is(r.recommendation, undefined);
  }
});

test('a change in flight holds even a pool below min', (t) => {
  const guests = [guest('web-1', 'healthy'), guest('web-2', 'draining')];
  t.is(decide(basic(), makeView({ guests }), NOW).decision.action, 'hold');
});

test('below min scales out ignoring cooldown', (t) => {
  const view = cpuView(1, cold, { lastScaleOutAt: NOW - SEC, lastScaleInAt: NOW - SEC });
  const r = decide(basic({ min: 3 }), view, NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(desiredSize(r.decision), 3);
  t.is(r.decision.reason, 'scale-out 1 -> 3: below min 3');
});

test('below a schedule min names the schedule', (t) => {
  const r = decide(basic({ schedules: [campaign({ min: 4 })] }), cpuView(2, [50, 50, 50]), NOW);
  t.is(r.decision.reason, 'scale-out 2 -> 4: below min 4 (schedule campaign)');
  t.deepEqual(r.decision.inputs.schedules, ['campaign']);
  t.is(r.decision.inputs.min, 4);
});

test('above max scales in to max ignoring cooldown', (t) => {
  const r = decide(basic({ max: 4 }), cpuView(6, hot, { lastScaleOutAt: NOW - SEC }), NOW);
  t.is(r.decision.action, 'scale-in');
  t.is(desiredSize(r.decision), 4);
  t.is(r.decision.reason, 'scale-in 6 -> 4: above max 4');
});

test('scale-out never exceeds max', (t) => {
  const cases = [
    { n: 8, step: 1, direction: 'hold' as Direction, to: 8 },
    { n: 7, step: 3, direction: 'scale-out' as Direction, to: 8 },
    { n: 6, step: 1, direction: 'scale-out' as Direction, to: 7 },
  ];
  for (const c of cases) {
    const policy = basic({ rules: [busyRule({ step: { kind: 'count', value: c.step } })] });
    const r = decide(policy, cpuView(c.n, hot), NOW);
    t.is(r.decision.action, c.direction, JSON.stringify(c));
    t.is(desiredSize(r.decision), c.to, JSON.stringify(c));
    t.true(desiredSize(r.decision) <= 8);
  }
  t.is(decide(basic(), cpuView(8, hot), NOW).decision.reason, 'at max 8 (wanted 8 -> 9: cpu mean 90.0% > 70% for 3 samples (90.0, 90.0, 90.0))');
  t.regex(decide(basic({ rules: [busyRule({ step: { kind: 'count', value: 3 } })] }), cpuView(7, hot), NOW).decision.reason, /^scale-out 7 -> 8: .*\(capped at max 8\)$/);
});

test('scale-in never goes below min', (t) => {
  const cases = [
    { n: 2, step: -1, direction: 'hold' as Direction, to: 2 },
    { n: 3, step: -5, direction: 'scale-in' as Direction, to: 2 },
    { n: 4, step: -1, direction: 'scale-in' as Direction, to: 3 },
  ];
  for (const c of cases) {
    const policy = basic({ rules: [idleRule({ step: { kind: 'count', value: c.step } })] });
    const r = decide(policy, cpuView(c.n, cold), NOW);
    t.is(r.decision.action, c.direction, JSON.stringify(c));
    t.is(desiredSize(r.decision), c.to, JSON.stringify(c));
    t.true(desiredSize(r.decision) >= 2);
  }
  t.regex(decide(basic(), cpuView(2, cold), NOW).decision.reason, /^at min 2 \(wanted 2 -> 1: cpu mean 5\.0% < 15%/);
});

test('a missing sample with on-missing: hold keeps the size', (t) => {
  const r = decide(basic({ onMissing: 'hold' }), cpuView(3, [90, 90, null]), NOW);
  t.is(r.decision.action, 'hold');
  t.is(desiredSize(r.decision), 3);
  t.regex(r.decision.reason, /missing samples for cpu/);
});

test('on-missing: scale-out adds one guest', (t) => {
  const r = decide(basic({ onMissing: 'scale-out' }), cpuView(3, [5, null, 5]), NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(desiredSize(r.decision), 4);
  t.is(r.decision.reason, 'scale-out 3 -> 4: missing samples for cpu: on-missing scale-out');
});

test('a guest that could not be sampled at all counts as missing', (t) => {
  const samples = cpuTicks(ids(3), [50, 50, 50]);
  samples[2] = { at: samples[2]!.at, guests: {} };
  const r = decide(basic({ onMissing: 'scale-out' }), makeView({ guests: healthy(3), samples }), NOW);
  t.is(desiredSize(r.decision), 4);
});

test('ticks where every guest was still warming up are not missing', (t) => {
  const guests = ['web-1', 'web-2'].map((id) => guest(id, 'healthy', NOW - 5 * SEC));
  const r = decide(basic({ onMissing: 'scale-out' }), makeView({ guests, samples: cpuTicks(['web-1', 'web-2'], hot) }), NOW);
  t.is(r.decision.action, 'hold');
  t.regex(r.decision.reason, /no warmed-up guests/);
});

test('fewer samples than a rule needs gives no opinion', (t) => {
  const r = decide(basic(), cpuView(3, [90, 90]), NOW);
  t.is(r.decision.action, 'hold');
  t.regex(r.decision.reason, /busy: 2 of 3 samples so far/);
});

test('a guest still warming up is left out of the averages and counts as capacity coming', (t) => {
  // Three warmed-up guests at 80% and one guest healthy for 5s (warm-up 10s) at 0%: the mean
  // stays 80, the busy rule fires, and its +1 from the 3 guests the metric reflects is the 4th.
  const guests = [...healthy(3), guest('web-4', 'healthy', NOW - 5 * SEC)];
  const samples = ticks(ids(3), [{ cpu: 80 }, { cpu: 80 }, { cpu: 80 }]).map((s) => ({ ...s, guests: { ...s.guests, 'web-4': { cpu: 0 } } }));
  const r = decide(basic(), makeView({ guests, samples }), NOW);
  t.is(r.decision.action, 'hold');
  t.is(r.decision.from, 4);
  t.deepEqual(r.decision.inputs.series['busy'], [80, 80, 80]);
  t.regex(r.decision.reason, /^capacity coming: 1 guest still booting or warming up make 4 >= 4 \(cpu mean 80\.0% > 70% for 3 samples \(80\.0, 80\.0, 80\.0\), stepped from the 3 guests it reflects\)$/);
  // Once it is warmed up and the others are still busy, the next step is taken from all 4.
  const later = decide(basic(), makeView({ guests: healthy(4), samples: cpuTicks(ids(4), [80, 80, 80]) }), NOW);
  t.is(desiredSize(later.decision), 5);
});

test('scale-out cooldown blocks a second scale-out', (t) => {
  const policy = basic();
  const blocked = decide(policy, cpuView(3, [84.0, 79.5, 85.9], { lastScaleOutAt: NOW - 18 * SEC }), NOW);
  t.is(blocked.decision.action, 'hold');
  t.is(desiredSize(blocked.decision), 3);
  t.is(blocked.decision.reason, 'cooldown: scale-out blocked for another 12s (wanted 3 -> 4: cpu mean 83.1% > 70% for 3 samples (84.0, 79.5, 85.9))');
  t.deepEqual(blocked.recommendation, { at: NOW, desired: 4 }, 'the recommendation is still remembered');
  // the cooldown ends exactly cooldownMs after the last scale-out
  t.is(decide(policy, cpuView(3, hot, { lastScaleOutAt: NOW - 30 * SEC }), NOW).decision.action, 'scale-out');
});

test('a recent scale-in does not block a scale-out', (t) => {
  t.is(decide(basic(), cpuView(3, hot, { lastScaleInAt: NOW - SEC }), NOW).decision.action, 'scale-out');
});

test('scale-in waits for its cooldown after a scale-out', (t) => {
  const policy = basic();
  const cases = [
    { view: { lastScaleOutAt: NOW - 30 * SEC }, direction: 'hold' as Direction, reason: /^cooldown: scale-in blocked for another 30s \(wanted 4 -> 3: cpu mean 5\.0% < 15%/ },
    { view: { lastScaleInAt: NOW - 59 * SEC }, direction: 'hold' as Direction, reason: /^cooldown: scale-in blocked for another 1s/ },
    { view: { lastScaleOutAt: NOW - 60 * SEC }, direction: 'scale-in' as Direction, reason: /^scale-in 4 -> 3: / },
    { view: { lastScaleOutAt: NOW - 90 * SEC, lastScaleInAt: NOW - 70 * SEC }, direction: 'scale-in' as Direction, reason: /^scale-in 4 -> 3: / },
  ];
  for (const c of cases) {
    const r = decide(policy, cpuView(4, cold, c.view), NOW);
    t.is(r.decision.action, c.direction, JSON.stringify(c.view));
    t.regex(r.decision.reason, c.reason);
  }
});

test('cooldownRemaining reports what is left of each cooldown', (t) => {
  const policy = basic();
  t.deepEqual(cooldownRemaining(policy, makeView(), NOW), { scaleOutMs: 0, scaleInMs: 0 });
  t.deepEqual(cooldownRemaining(policy, makeView({ lastScaleOutAt: NOW - 10 * SEC }), NOW), { scaleOutMs: 20 * SEC, scaleInMs: 50 * SEC });
  t.deepEqual(cooldownRemaining(policy, makeView({ lastScaleInAt: NOW - 10 * SEC }), NOW), { scaleOutMs: 0, scaleInMs: 50 * SEC });
  t.deepEqual(cooldownRemaining(policy, makeView({ lastScaleOutAt: NOW - 600 * SEC }), NOW), { scaleOutMs: 0, scaleInMs: 0 });
});

test('stabilization keeps the highest recommendation in the window', (t) => {
  const policy = basic({ scaleIn: { cooldownMs: 0, stabilizationMs: 120_000, victims: 'newest' } });
  const cases = [
    { n: 4, recs: [{ at: NOW - 60 * SEC, desired: 4 }, { at: NOW - 30 * SEC, desired: 3 }], direction: 'hold' as Direction, to: 4 },
    { n: 4, recs: [{ at: NOW - 120 * SEC, desired: 4 }], direction: 'scale-in' as Direction, to: 3 }, // window end excluded
    { n: 4, recs: [{ at: NOW - 119 * SEC, desired: 4 }], direction: 'hold' as Direction, to: 4 },
    { n: 4, recs: [{ at: NOW - 60 * SEC, desired: 7 }], direction: 'hold' as Direction, to: 4 }, // never above current
    { n: 5, recs: [{ at: NOW - 60 * SEC, desired: 4 }, { at: NOW - 10 * SEC, desired: 3 }], direction: 'scale-in' as Direction, to: 4 },
    { n: 4, recs: [], direction: 'scale-in' as Direction, to: 3 },
  ];
  for (const c of cases) {
    const policyStep = c.n === 5 ? basic({ rules: [idleRule({ step: { kind: 'count', value: -2 } })], scaleIn: policy.scaleIn }) : policy;
    const r = decide(policyStep, cpuView(c.n, cold, { recommendations: c.recs }), NOW);
    t.is(r.decision.action, c.direction, JSON.stringify(c));
    t.is(desiredSize(r.decision), c.to, JSON.stringify(c));
    t.is(r.recommendation?.desired, 3, 'the raw recommendation is remembered');
  }
  const held = decide(policy, cpuView(4, cold, { recommendations: [{ at: NOW - 60 * SEC, desired: 4 }] }), NOW);
  t.regex(held.decision.reason, new RegExp(`^scale-in to 3 held by stabilization: highest recommendation 4, made 60s ago \\(${new Date(NOW - 60 * SEC).toISOString()}\\), in the last 120s \\(`));
  const partial = decide(
    basic({ rules: [idleRule({ step: { kind: 'count', value: -2 } })], scaleIn: policy.scaleIn }),
    cpuView(5, cold, { recommendations: [{ at: NOW - 60 * SEC, desired: 4 }] }),
    NOW,
  );
  // It says what it kept and why: the recommendation and when it was made (not "stabilized from 3").
  t.regex(partial.decision.reason, new RegExp(`^scale-in 5 -> 4: .*; stabilization kept 4 instead of 3: highest recommendation 4, made 60s ago \\(${new Date(NOW - 60 * SEC).toISOString()}\\), in the last 120s$`));
});

test('stabilization does not delay a scale-out', (t) => {
  const policy = basic({ scaleIn: { cooldownMs: 0, stabilizationMs: 120_000, victims: 'newest' } });
  const r = decide(policy, cpuView(3, hot, { recommendations: [{ at: NOW - 10 * SEC, desired: 2 }] }), NOW);
  t.is(desiredSize(r.decision), 4);
});

test('no rule triggered holds and recommends the current size', (t) => {
  const r = decide(basic(), cpuView(3, [50, 50, 50]), NOW);
  t.is(r.decision.action, 'hold');
  t.is(r.decision.reason, 'no rule triggered');
  t.deepEqual(r.recommendation, { at: NOW, desired: 3 });
});

test('scale-out wins over scale-in', (t) => {
  // cpu is hot (busy: +1) while rps is far below target (rps: scale in to 1)
  const policy = basic({ rules: [rpsRule(), busyRule()] });
  const samples = ticks(ids(3), [{ cpu: 90, rps: 5 }, { cpu: 90, rps: 5 }, { cpu: 90, rps: 5 }]);
  const r = decide(policy, makeView({ guests: healthy(3), samples }), NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(desiredSize(r.decision), 4);
  t.is(r.decision.inputs.rule, 'busy');
});

test('scale-in happens only when every rule with an opinion wants fewer', (t) => {
  // idle wants 3 -> 2, rps is inside its tolerance band and wants 3: hold
  const policy = basic({ rules: [idleRule(), rpsRule()] });
  const samples = ticks(ids(3), [{ cpu: 5, rps: 40 }, { cpu: 5, rps: 40 }, { cpu: 5, rps: 40 }]);
  const r = decide(policy, makeView({ guests: healthy(3), samples }), NOW);
  t.is(r.decision.action, 'hold');
  t.is(r.decision.inputs.rule, 'rps');
  t.regex(r.decision.reason, /within tolerance/);
  // both want fewer: the larger size (the milder scale-in) wins
  const samples2 = ticks(ids(4), [{ cpu: 5, rps: 20 }, { cpu: 5, rps: 20 }, { cpu: 5, rps: 20 }]);
  const r2 = decide(basic({ rules: [rpsRule(), idleRule()] }), makeView({ guests: healthy(4), samples: samples2 }), NOW);
  t.is(desiredSize(r2.decision), 3);
  t.is(r2.decision.inputs.rule, 'idle');
});

test('the largest scale-out wins', (t) => {
  const policy = basic({ rules: [busyRule(), busyRule({ name: 'very-busy', above: 85, step: { kind: 'count', value: 2 } })] });
  const r = decide(policy, cpuView(3, hot), NOW);
  t.is(desiredSize(r.decision), 5);
  t.is(r.decision.inputs.rule, 'very-busy');
});

test('target tracking drives the pool to ceil(ready x ratio)', (t) => {
  const samples = ticks(ids(3), [{ rps: 60 }, { rps: 62.4 }]);
  const r = decide(basic({ rules: [rpsRule()] }), makeView({ guests: healthy(3), samples }), NOW);
  t.is(r.decision.reason, 'scale-out 3 -> 5: rps mean 61.2 / target 40 = 1.53 -> ceil(3 x 1.53) = 5');
});

test('a schedule raises min inside its window', (t) => {
  const policy = basic({ schedules: [campaign({ min: 4 })] });
  const inside = decide(policy, cpuView(3, [50, 50, 50]), NOW); // Monday 13:00 Berlin
  t.is(desiredSize(inside.decision), 4);
  const evening = Date.UTC(2026, 0, 12, 17, 0, 0); // 18:00 Berlin: window over
  const samples = cpuTicks(ids(3), [50, 50, 50], evening);
  t.is(decide(policy, makeView({ guests: healthy(3), samples }), evening).decision.action, 'hold');
});

test('decide is deterministic: the same inputs give the same decision', (t) => {
  const policy = basic({ rules: [busyRule(), idleRule(), rpsRule()], schedules: [campaign()] });
  const view = makeView({ guests: healthy(4), samples: ticks(ids(4), [{ cpu: 75, rps: 50 }, { cpu: 80, rps: 52 }, { cpu: 90, rps: 49 }]) });
  t.deepEqual(decide(policy, view, NOW), decide(policy, view, NOW));
});

test('a stabilized scale-in says what it kept and why: the recommendation kept and when it was made', (t) => {
  // 8 guests, little traffic: the rps rule now wants 1; 40 s ago it wanted 6. Stabilization keeps 6.
  const policy = makePolicy({ rules: [rpsRule({ for: 1 })], scaleIn: { cooldownMs: 0, stabilizationMs: 120_000, victims: 'newest' } });
  const view = makeView({ guests: healthy(8), samples: ticks(ids(8), [{ rps: 2 }]), recommendations: [{ at: NOW - 40 * SEC, desired: 6 }, { at: NOW - 20 * SEC, desired: 4 }] });
  const r = decide(policy, view, NOW);
  t.is(r.decision.action, 'scale-in');
  t.is(desiredSize(r.decision), 6);
  t.is(r.decision.reason, 'scale-in 8 -> 6: rps mean 2.0 / target 40 = 0.05 -> ceil(8 x 0.05) = 1; stabilization kept 6 instead of 1: highest recommendation 6, made 40s ago (2026-01-12T11:59:20.000Z), in the last 120s');
  t.false(r.decision.reason.includes('stabilized from'));
});
