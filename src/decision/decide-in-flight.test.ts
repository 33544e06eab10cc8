// What guests on their way up or out do to a decision (decide.ts steps 1 and 6), for each
// scale_out.while_booting and for baselines whose peers ignore what is in flight.
import test from 'ava';
import type { Policy } from '../domain/policy.ts';
import { desiredSize, type GuestState } from '../domain/types.ts';
import { decide } from './decide.ts';
import { busyRule, cpuTicks, guest, healthy, idleRule, makePolicy, makeView, NOW, rpsRule, ticks } from './test-helpers.ts';

const ids = (n: number) => healthy(n).map((g) => g.id);
const add = (overrides: Partial<Policy> = {}) =>
  makePolicy({ rules: [rpsRule({ for: 1 })], scaleOut: { cooldownMs: 0, whileBooting: 'add' }, scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' }, ...overrides });
/** n warmed-up guests at `rps` each, plus guests in other states. */
const pool = (n: number, rps: number, others: GuestState[] = []) =>
  makeView({ guests: [...healthy(n), ...others.map((s, i) => guest(`web-x${i}`, s))], samples: ticks(ids(n), [{ rps }]) });

test('with while_booting add, guests booting count as capacity coming: no second launch for the same load', (t) => {
  // 2 guests at 80 rps, target 40: 4 wanted; 2 already booting make 4.
  const r = decide(add(), pool(2, 80, ['booting', 'cloning']), NOW);
  t.is(r.decision.action, 'hold');
  t.is(r.decision.from, 4);
  t.regex(r.decision.reason, /^capacity coming: 2 guests still booting or warming up make 4 >= 4 \(rps mean 80\.0 \/ target 40 = 2\.00 -> ceil\(2 x 2\.00\) = 4\)$/);
});

test('with while_booting add, more load than the guests booting cover adds the difference at once', (t) => {
  // 2 guests at 120 rps: 6 wanted, 4 counted (2 booting): +2 now, not after the boot.
  const r = decide(add(), pool(2, 120, ['booting', 'booting']), NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(r.decision.from, 4);
  t.is(desiredSize(r.decision), 6);
});

test('with while_booting add, never more than max counting the guests booting', (t) => {
  const r = decide(add({ max: 5 }), pool(2, 200, ['booting', 'booting']), NOW);
  t.is(desiredSize(r.decision), 5);
  t.regex(r.decision.reason, /capped at max 5/);
  const full = decide(add({ max: 4 }), pool(2, 200, ['booting', 'booting']), NOW);
  t.is(full.decision.action, 'hold');
  t.regex(full.decision.reason, /^at max 4/);
});

test('with while_booting add, a scale-in waits for guests booting or warming up', (t) => {
  const booting = decide(add(), pool(4, 5, ['booting']), NOW);
  t.is(booting.decision.action, 'hold');
  t.regex(booting.decision.reason, /^scale-in waits for 1 guest still booting or warming up \(wanted 5 -> 2: /);
  const warming = decide(add({ warmupMs: 30_000 }), makeView({ guests: [...healthy(4), guest('web-9', 'healthy', NOW - 10_000)], samples: ticks(ids(4), [{ rps: 5 }]) }), NOW);
  t.regex(warming.decision.reason, /^scale-in waits for 1 guest still booting or warming up/);
});

test('with while_booting add, guests draining or stopping still hold the pool', (t) => {
  for (const s of ['draining', 'stopping'] as const) {
    const r = decide(add(), pool(2, 200, [s]), NOW);
    t.is(r.decision.action, 'hold', s);
    t.is(r.decision.reason, `change in flight: 1 guest ${s}`);
  }
});

test('with while_booting add, a pool above a lowered max waits for its guests booting before scaling in', (t) => {
  const r = decide(add({ max: 3 }), pool(3, 40, ['booting']), NOW);
  t.is(r.decision.action, 'hold');
  t.regex(r.decision.reason, /^scale-in waits for 1 guest still booting or warming up \(wanted 4 -> 3: above max 3\)/);
});

test('with while_booting hold, any guest booting holds the pool', (t) => {
  const r = decide(add({ scaleOut: { cooldownMs: 0, whileBooting: 'hold' } }), pool(2, 200, ['booting']), NOW);
  t.is(r.decision.action, 'hold');
  t.is(r.decision.reason, 'change in flight: 1 guest booting');
});

test('a threshold step is taken from the guests the metric reflects: a crossing that lasts while its guest boots asks for no more', (t) => {
  const policy = add({ rules: [busyRule(), idleRule()] });
  const ticksOf = (n: number) => cpuTicks(ids(n), [90, 90, 90]);
  const r = decide(policy, makeView({ guests: [...healthy(3), guest('web-b', 'booting')], samples: ticksOf(3) }), NOW);
  t.is(r.decision.action, 'hold');
  t.regex(r.decision.reason, /^capacity coming: 1 guest still booting or warming up make 4 >= 4 /);
  // A bigger step (+3 above 90) still adds what the booting guest does not cover.
  const steep = add({ rules: [busyRule(), busyRule({ name: 'very-busy', above: 85, step: { kind: 'count', value: 3 } })] });
  const r2 = decide(steep, makeView({ guests: [...healthy(3), guest('web-b', 'booting')], samples: ticksOf(3) }), NOW);
  t.is(r2.decision.action, 'scale-out');
  t.is(desiredSize(r2.decision), 6);
});

test("a peer that ignores what is in flight decides as if nothing were, in both directions", (t) => {
  const peer = (overrides: Partial<Policy> = {}) => add({ peer: { ignoreInFlight: true }, ...overrides });
  t.is(decide(peer(), pool(2, 200, ['draining']), NOW).decision.action, 'scale-out');
  const down = decide(peer(), pool(4, 5, ['booting']), NOW);
  t.is(down.decision.action, 'scale-in');
  t.is(down.decision.from, 5);
});

test('a peer scale-out limit caps a decision at the larger of a percentage and a guest count', (t) => {
  // The HPA default: 100% or 4 pods more, whichever is more.
  const hpaLike = add({ max: 100, peer: { ignoreInFlight: true, scaleOutLimit: { percent: 100, guests: 4 } } });
  const cases = [
    { n: 2, rps: 200, to: 6 }, // 10 wanted: 2 + 4 (4 > 100% of 2)
    { n: 10, rps: 200, to: 20 }, // 50 wanted: 10 + 100% (10 > 4): horizontal_test.go "scaleUp with default behavior"
    { n: 3, rps: 60, to: 5 }, // 5 wanted: within the limit
  ];
  for (const c of cases) {
    const r = decide(hpaLike, makeView({ guests: healthy(c.n), samples: ticks(ids(c.n), [{ rps: c.rps }]) }), NOW);
    t.is(desiredSize(r.decision), c.to, JSON.stringify(c));
  }
  const r = decide(hpaLike, makeView({ guests: healthy(10), samples: ticks(ids(10), [{ rps: 200 }]) }), NOW);
  t.regex(r.decision.reason, /\(scale-out limit: 100% or 4 guests more, from 50\)$/);
});

test('a peer whose cooldown is one for both directions blocks a scale-out after a scale-in too', (t) => {
  const base = add({ scaleOut: { cooldownMs: 60_000, whileBooting: 'add' } });
  const afterIn = makeView({ guests: healthy(2), samples: ticks(ids(2), [{ rps: 200 }]), lastScaleInAt: NOW - 10_000 });
  t.is(decide(base, afterIn, NOW).decision.action, 'scale-out');
  const blocked = decide({ ...base, peer: { cooldownAfterAny: true } }, afterIn, NOW).decision;
  t.is(blocked.action, 'hold');
  t.regex(blocked.reason, /^cooldown: scale-out blocked for another 50s/);
});

test('a sick guest holds no decision: waiting for its replacement it counts as capacity coming, with auto-heal off as nothing', (t) => {
  // 2 serving at 120 rps, target 40: 6 wanted.
  const on = decide(add(), pool(2, 120, ['sick']), NOW);
  t.is(on.decision.action, 'scale-out');
  t.is(on.decision.from, 3, 'the replacement auto-heal launches for it is coming');
  t.is(desiredSize(on.decision), 6);
  const off = decide(add({ autoHeal: { enabled: false, maxConcurrent: 1 } }), pool(2, 120, ['sick']), NOW);
  t.is(off.decision.from, 2, 'nothing replaces it: it is retired');
  t.is(desiredSize(off.decision), 6);
  // Once the replacement exists it counts, and the sick guest no longer does.
  const replacing = makeView({ guests: [...healthy(2), guest('web-x0', 'sick'), { ...guest('web-r', 'booting'), meta: { replaces: 'web-x0' } }], samples: ticks(ids(2), [{ rps: 120 }]) });
  t.is(decide(add(), replacing, NOW).decision.from, 3);
});
