// The flap budget (policy flap_budget): what it counts, when it holds and what a held decision says.
import test from 'ava';
import type { Policy } from '../domain/policy.ts';
import type { Decision } from '../domain/types.ts';
import { decide } from './decide.ts';
import { flapBudgetAt, type ChangeMark } from './flap-budget.ts';
import { emptyMemory, remember } from './pool-memory.ts';
import { busyRule, cpuTicks, healthy, idleRule, makePolicy, makeView, NOW } from './test-helpers.ts';

const MIN = 60_000;
const budget = { changes: 6, windowMs: 10 * MIN };
const policy = (overrides: Partial<Policy> = {}) =>
  makePolicy({ rules: [busyRule({ step: { kind: 'count', value: 2 } }), idleRule()], scaleIn: { cooldownMs: 0, stabilizationMs: 0 }, scaleOut: { cooldownMs: 0, whileBooting: 'hold' }, flapBudget: budget, ...overrides });
const hot = (n: number, changes: ChangeMark[]) => makeView({ guests: healthy(n), samples: cpuTicks(healthy(n).map((g) => g.id), [90, 90, 90]), changes });
const cold = (n: number, changes: ChangeMark[]) => makeView({ guests: healthy(n), samples: cpuTicks(healthy(n).map((g) => g.id), [5, 5, 5]), changes });

test('with changes left in the budget a scale-out goes ahead unchanged', (t) => {
  const r = decide(policy(), hot(3, [{ at: NOW - MIN, guests: 2 }]), NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(r.decision.action === 'scale-out' ? r.decision.to : 0, 5);
});

test('a spent budget holds a scale-out and says how much was spent and when a change is free', (t) => {
  const changes = [{ at: NOW - 9 * MIN, guests: 2 }, { at: NOW - 5 * MIN, guests: 2 }, { at: NOW - 2 * MIN, guests: 2 }];
  const r = decide(policy(), hot(3, changes), NOW);
  t.is(r.decision.action, 'hold');
  t.deepEqual(r.hold, { cause: 'flap-budget', spent: 6, limit: 6, windowMs: 10 * MIN, nextAt: NOW + MIN, wanted: 5 });
  t.regex(r.decision.reason, /^flap budget spent: 6 of 6 changes in 600s, next free in 60s \(wanted 3 -> 5: /);
});

test('a spent budget holds a scale-in too', (t) => {
  const r = decide(policy(), cold(4, [{ at: NOW - MIN, guests: 6 }]), NOW);
  t.is(r.decision.action, 'hold');
  t.is(r.hold?.cause, 'flap-budget');
});

test('a change larger than what is left is cut to the guests left, and says so', (t) => {
  const r = decide(policy(), hot(3, [{ at: NOW - MIN, guests: 5 }]), NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(r.decision.action === 'scale-out' ? r.decision.to : 0, 4);
  t.regex(r.decision.reason, /\(flap budget: 1 change left of 6 in 600s, wanted 5\)$/);
});

test('changes older than the window no longer count', (t) => {
  const r = decide(policy(), hot(3, [{ at: NOW - 10 * MIN, guests: 6 }, { at: NOW - 11 * MIN, guests: 6 }]), NOW);
  t.is(r.decision.action, 'scale-out');
});

test('the budget never holds a pool below its min: bounds go ahead', (t) => {
  const r = decide(policy({ min: 3 }), makeView({ guests: healthy(1), changes: [{ at: NOW - MIN, guests: 6 }] }), NOW);
  t.is(r.decision.action, 'scale-out');
});

test('without flap_budget nothing is held, whatever was changed', (t) => {
  const r = decide(policy({ flapBudget: undefined }), hot(3, [{ at: NOW - MIN, guests: 60 }]), NOW);
  t.is(r.decision.action, 'scale-out');
});

const scaleOut = (from: number, to: number, at: number): Decision => ({ pool: 'web', at, from, to, action: 'scale-out', reason: 'x', inputs: { series: {}, min: 2, max: 8, schedules: [] } });

test('the memory spends |to - from| guests when an action starts, whatever its outcome', (t) => {
  const p = policy();
  let m = remember(p, emptyMemory(), { kind: 'started', id: 'a', decision: scaleOut(2, 4, NOW) }, NOW);
  m = remember(p, m, { kind: 'finished', id: 'a', outcome: 'failed' }, NOW + 1000);
  t.deepEqual(m.changes, [{ at: NOW, guests: 2 }]);
  t.is(flapBudgetAt(p, m.changes, NOW + 1000)!.spent, 2);
});

test('the memory drops marks that left the window when the next action starts', (t) => {
  const p = policy();
  let m = remember(p, emptyMemory(), { kind: 'started', id: 'a', decision: scaleOut(2, 4, NOW) }, NOW);
  m = remember(p, m, { kind: 'started', id: 'b', decision: scaleOut(4, 5, NOW + 10 * MIN) }, NOW + 10 * MIN);
  t.deepEqual(m.changes, [{ at: NOW + 10 * MIN, guests: 1 }]);
});

test('a sick guest\'s replacement spends nothing: auto-heal is never held by the budget', (t) => {
  const p = policy();
  let m = remember(p, emptyMemory(), { kind: 'started', id: 'a', decision: scaleOut(2, 8, NOW) }, NOW);
  const before = m.changes;
  m = remember(p, m, { kind: 'replacing', sick: 'web-s' }, NOW + 1000);
  m = remember(p, m, { kind: 'replaced', sick: 'web-s' }, NOW + 2000);
  t.deepEqual(m.changes, before);
});

test('a pool without a flap budget keeps no marks', (t) => {
  const m = remember(policy({ flapBudget: undefined }), emptyMemory(), { kind: 'started', id: 'a', decision: scaleOut(2, 4, NOW) }, NOW);
  t.is(m.changes, undefined);
});

test('the memory with its marks survives a JSON round trip (the pool record), so a new leader counts the same', (t) => {
  const p = policy();
  const m = remember(p, emptyMemory(), { kind: 'started', id: 'a', decision: scaleOut(2, 8, NOW) }, NOW);
  const restored = JSON.parse(JSON.stringify(m)) as typeof m;
  const view = (changes: ChangeMark[] | undefined) => hot(3, changes ?? []);
  t.deepEqual(decide(p, view(restored.changes), NOW + MIN), decide(p, view(m.changes), NOW + MIN));
  t.is(decide(p, view(restored.changes), NOW + MIN).hold?.cause, 'flap-budget');
});

test('nextAt is when enough of the oldest marks have left for one change', (t) => {
  const p = { flapBudget: { changes: 3, windowMs: 10 * MIN } };
  const s = flapBudgetAt(p, [{ at: NOW - 8 * MIN, guests: 1 }, { at: NOW - 6 * MIN, guests: 3 }], NOW)!;
  t.deepEqual(s, { spent: 4, limit: 3, windowMs: 10 * MIN, remaining: 0, nextAt: NOW + 4 * MIN });
});
