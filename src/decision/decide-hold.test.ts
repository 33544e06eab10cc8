// decide() says why it held, as data (DecideResult.hold), and what each rule made of its samples
// (DecideResult.rules): what `gridhost explain` and GET /api/pools/:pool/decisions show.
import test from 'ava';
import type { Policy } from '../domain/policy.ts';
import { decide } from './decide.ts';
import type { HoldCause, PoolView } from './decide-types.ts';
import { busyRule, cpuTicks, guest, healthy, idleRule, makePolicy, makeView, NOW } from './test-helpers.ts';

const SEC = 1000;
const ids = (n: number) => healthy(n).map((g) => g.id);
const cpuView = (n: number, cpu: (number | null)[], extra: Partial<PoolView> = {}) => makeView({ guests: healthy(n), samples: cpuTicks(ids(n), cpu), ...extra });
const basic = (overrides: Partial<Policy> = {}) => makePolicy({ rules: [busyRule(), idleRule()], scaleIn: { cooldownMs: 60_000, stabilizationMs: 0 }, ...overrides });

const cases: { rule: string; policy: Policy; view: PoolView; hold: HoldCause }[] = [
  {
    rule: 'a change in flight names the guests by state',
    policy: basic(),
    view: makeView({ guests: [...healthy(2), guest('web-b', 'booting'), guest('web-c', 'booting'), guest('web-d', 'draining')], samples: cpuTicks(ids(2), [90, 90, 90]) }),
    hold: { cause: 'in-flight', guests: { booting: 2, draining: 1 } },
  },
  { rule: 'a missing sample with on-missing hold names the rule', policy: basic(), view: cpuView(3, [90, 90, null]), hold: { cause: 'missing-metrics', rules: ['busy', 'idle'] } },
  {
    rule: 'guests all warming up is warm-up, not missing',
    policy: basic(),
    view: makeView({ guests: ['web-1', 'web-2'].map((id) => guest(id, 'healthy', NOW - 5 * SEC)), samples: cpuTicks(['web-1', 'web-2'], [90, 90, 90]) }),
    hold: { cause: 'warm-up', rules: ['busy', 'idle'] },
  },
  { rule: 'fewer ticks than `for` is not-enough-samples', policy: basic(), view: cpuView(3, [90, 90]), hold: { cause: 'not-enough-samples', rules: ['busy', 'idle'] } },
  { rule: 'no rule triggered is steady', policy: basic(), view: cpuView(3, [50, 50, 50]), hold: { cause: 'steady' } },
  { rule: 'rules wanting more than max is at-max with what they wanted', policy: basic({ max: 3 }), view: cpuView(3, [90, 90, 90]), hold: { cause: 'at-max', max: 3, wanted: 4 } },
  { rule: 'rules wanting fewer than min is at-min', policy: basic(), view: cpuView(2, [5, 5, 5]), hold: { cause: 'at-min', min: 2, wanted: 1 } },
  {
    rule: 'a scale-in held by stabilization names the recommendation that held it',
    policy: basic({ scaleIn: { cooldownMs: 0, stabilizationMs: 120_000 } }),
    view: cpuView(4, [5, 5, 5], { recommendations: [{ at: NOW - 60 * SEC, desired: 4 }] }),
    hold: { cause: 'stabilization', wanted: 3, heldAt: 4, recommendedAt: NOW - 60 * SEC, windowMs: 120_000 },
  },
  {
    rule: 'a cooldown says which direction and how long is left',
    policy: basic(),
    view: cpuView(3, [90, 90, 90], { lastScaleOutAt: NOW - 18 * SEC }),
    hold: { cause: 'cooldown', direction: 'scale-out', remainingMs: 12 * SEC, wanted: 4 },
  },
];

for (const c of cases) {
  test(`hold cause: ${c.rule}`, (t) => {
    const r = decide(c.policy, c.view, NOW);
    t.is(r.decision.action, 'hold');
    t.deepEqual(r.hold, c.hold);
  });
}

test('a decision that scales has no hold cause', (t) => {
  t.is(decide(basic(), cpuView(3, [90, 90, 90]), NOW).hold, undefined);
  t.is(decide(basic({ min: 4 }), cpuView(3, [50, 50, 50]), NOW).hold, undefined, 'below min');
});

test('each rule\'s verdict: what it wants with its reason, or why it has none', (t) => {
  const r = decide(basic(), cpuView(3, [84.0, 79.5, 85.9]), NOW);
  t.deepEqual(r.rules, [
    { rule: 'busy', wants: 4, reason: 'cpu mean 83.1% > 70% for 3 samples (84.0, 79.5, 85.9)' },
    { rule: 'idle', idle: 'not-triggered' },
  ]);
  const few = decide(basic(), cpuView(3, [90]), NOW);
  t.deepEqual(few.rules[0], { rule: 'busy', idle: 'not-enough-samples', note: 'busy: 1 of 3 samples so far' });
});

test('every decision carries each rule\'s verdict, a change in flight and a pool out of bounds included', (t) => {
  const inflight = decide(basic(), makeView({ guests: [...healthy(2), guest('web-b', 'draining')], samples: cpuTicks(ids(2), [90, 90, 90]) }), NOW);
  t.is(inflight.hold?.cause, 'in-flight');
  t.deepEqual(inflight.rules.map((r) => r.rule), ['busy', 'idle']);
  t.is(inflight.rules[0]!.wants, 3);
  const below = decide(basic({ min: 4 }), cpuView(3, [50, 50, 50]), NOW);
  t.is(below.decision.action, 'scale-out');
  t.deepEqual(below.rules, [{ rule: 'busy', idle: 'not-triggered' }, { rule: 'idle', idle: 'not-triggered' }]);
});

test('hold cause: capacity still booting makes a scale-in wait (scale_out.while_booting add)', (t) => {
  const guests = [...healthy(3), guest('web-b', 'booting')];
  const r = decide(basic({ scaleOut: { cooldownMs: 30_000, whileBooting: 'add' } }), makeView({ guests, samples: cpuTicks(ids(3), [5, 5, 5]) }), NOW);
  t.is(r.decision.action, 'hold');
  t.like(r.hold, { cause: 'capacity-coming', guests: 1 });
});
