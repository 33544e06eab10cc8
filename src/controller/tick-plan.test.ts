import test from 'ava';
import type { Decision, Guest, GuestState, PoolControl, ScaleDecision } from '../domain/types.ts';
import { guest, healthy, NOW } from '../decision/test-helpers.ts';
import { manualDecision, planTick, type TickFacts } from './tick-plan.ts';

function decision(action: 'hold', from: number, to: number): Decision;
function decision(action: 'scale-out' | 'scale-in', from: number, to: number): ScaleDecision;
function decision(action: 'hold' | 'scale-out' | 'scale-in', from: number, to: number): Decision {
  const base = { pool: 'web', at: NOW, from, reason: `${action} ${from} -> ${to}: rule`, inputs: { series: {}, min: 2, max: 8, schedules: [] } };
  return action === 'hold' ? { ...base, action } : { ...base, action, to };
}
const facts = (over: Partial<TickFacts> = {}): TickFacts => ({
  decision: decision('scale-out', 3, 5), guests: healthy(3), idle: true, mayStart: () => true, breaker: { openForMs: 0, consecutiveFailures: 0 }, ...over,
});
const paused: PoolControl = { mode: 'paused', by: 'alice', reason: 'incident', at: NOW - 1000 };
const manual = (desired: number): PoolControl => ({ mode: 'manual', desired, force: false, by: 'bob', reason: 'campaign', at: NOW - 1000 });
const withState = (n: number, s: GuestState): Guest[] => [...healthy(n), guest('web-x', s)];

test('a decision to scale is acted on', (t) => {
  t.deepEqual(planTick(facts()), { kind: 'act', decision: decision('scale-out', 3, 5) });
});

test('an action the loop does not allow beside those running holds as busy, the manual size included', (t) => {
  t.deepEqual(planTick(facts({ idle: false, mayStart: () => false, control: manual(6) })), { kind: 'hold', hold: { cause: 'busy' } });
  t.like(planTick(facts({ idle: false, mayStart: (d) => d.action === 'scale-out' })), { kind: 'act' }, 'a scale-out beside scale-outs still booting');
});

test('a guest left stopping is finished before anything else, once no action runs', (t) => {
  t.deepEqual(planTick(facts({ guests: withState(3, 'stopping'), control: paused })), { kind: 'retry-stopping', hold: { cause: 'cleanup', guests: ['web-x'] } });
  t.like(planTick(facts({ guests: withState(3, 'stopping'), idle: false, mayStart: () => false })), { kind: 'hold', hold: { cause: 'busy' } });
});

test('paused: no action, whatever the decision (below min included)', (t) => {
  for (const d of [decision('scale-out', 1, 2), decision('scale-in', 9, 8), decision('scale-out', 3, 5)]) {
    t.deepEqual(planTick(facts({ decision: d, control: paused })), { kind: 'hold', hold: { cause: 'paused', by: 'alice', reason: 'incident', since: NOW - 1000 } });
  }
});

test('manual: the pool moves to the operator\'s size in either direction, by the operator', (t) => {
  const out = planTick(facts({ decision: decision('hold', 3, 3), control: manual(6) }));
  t.like(out, { kind: 'act', by: 'bob', decision: { action: 'scale-out', from: 3, to: 6, reason: 'scale-out 3 -> 6: set by hand to 6 by bob: campaign' } });
  t.like(planTick(facts({ decision: decision('scale-out', 3, 8), control: manual(2) })), { kind: 'act', decision: { action: 'scale-in', from: 3, to: 2 } });
});

test('manual: at its size the pool holds, whatever the rules want', (t) => {
  t.deepEqual(planTick(facts({ decision: decision('scale-out', 3, 8), control: manual(3) })), { kind: 'hold', hold: { cause: 'manual', desired: 3, by: 'bob', reason: 'campaign', since: NOW - 1000 } });
});

test('manual: a change in flight still holds; the cooldown does not', (t) => {
  const inflight = { cause: 'in-flight' as const, guests: { booting: 1 } };
  t.deepEqual(planTick(facts({ decision: decision('hold', 3, 3), hold: inflight, control: manual(6) })), { kind: 'hold', hold: inflight });
  const cooling = { cause: 'cooldown' as const, direction: 'scale-out' as const, remainingMs: 5000, wanted: 4 };
  t.like(planTick(facts({ decision: decision('hold', 3, 3), hold: cooling, control: manual(6) })), { kind: 'act', decision: { to: 6 } });
});

test('an open breaker holds a scale-out (manual too) with the time left, never a scale-in', (t) => {
  const breaker = { openForMs: 30_000, consecutiveFailures: 3 };
  t.like(planTick(facts({ breaker })), { kind: 'hold', hold: { cause: 'breaker', remainingMs: 30_000, consecutiveFailures: 3 }, wanted: { to: 5 } });
  t.like(planTick(facts({ breaker, control: manual(6) })), { kind: 'hold', hold: { cause: 'breaker' } });
  t.like(planTick(facts({ breaker, decision: decision('scale-in', 3, 2) })), { kind: 'act' });
});

test('a hold keeps decide()\'s own cause', (t) => {
  const hold = { cause: 'stabilization' as const, wanted: 2, heldAt: 3, recommendedAt: 0, windowMs: 120_000 };
  t.deepEqual(planTick(facts({ decision: decision('hold', 3, 3), hold })), { kind: 'hold', hold });
});

test('manualDecision is undefined at the size, and counts from the decision\'s size', (t) => {
  t.is(manualDecision(decision('hold', 4, 4), manual(4) as Extract<PoolControl, { mode: 'manual' }>), undefined);
  t.like(manualDecision(decision('hold', 4, 4), manual(2) as Extract<PoolControl, { mode: 'manual' }>), { action: 'scale-in', from: 4, to: 2 });
});

test('blocked: no launch, retirement, cleanup retry or manual size while the balancer cannot take guests; the change held back is named', (t) => {
  const blocked = { code: 'GH_HAPROXY_UNREACHABLE', message: 'stats socket does not answer', since: NOW - 5000 };
  const hold = { cause: 'blocked', code: 'GH_HAPROXY_UNREACHABLE', message: 'stats socket does not answer', since: NOW - 5000 };
  t.deepEqual(planTick(facts({ blocked })), { kind: 'hold', hold, wanted: decision('scale-out', 3, 5) });
  t.deepEqual(planTick(facts({ blocked, decision: decision('hold', 3, 3), guests: withState(3, 'stopping'), control: manual(6) })), { kind: 'hold', hold });
});

test('recommend: the policy\'s change is held and named as wanted, below min included; an operator\'s manual size still moves the pool', (t) => {
  for (const d of [decision('scale-out', 1, 2), decision('scale-in', 9, 8), decision('scale-out', 3, 5)]) {
    t.deepEqual(planTick(facts({ decision: d, recommend: true })), { kind: 'hold', hold: { cause: 'recommend' }, wanted: d });
  }
  t.deepEqual(planTick(facts({ decision: decision('hold', 3, 3), recommend: true })), { kind: 'hold' }, 'nothing to recommend: a plain hold');
  t.like(planTick(facts({ decision: decision('hold', 3, 3), control: manual(6), recommend: true })), { kind: 'act', by: 'bob', decision: { action: 'scale-out', to: 6 } });
  t.like(planTick(facts({ decision: decision('scale-out', 3, 5), control: paused, recommend: true })), { kind: 'hold', hold: { cause: 'paused' } });
});
