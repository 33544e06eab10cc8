import test from 'ava';
import { decide } from '../decision/decide.ts';
import { NOW, busyRule, cpuTicks, healthy, makePolicy, makeView } from '../decision/test-helpers.ts';
import { DecisionJournal, evaluationOf, type Evaluation } from './decision-journal.ts';

const at = (ms: number): Evaluation => ({
  pool: 'web', at: ms, mode: 'auto', rules: [], guests: { counted: 2, byState: { healthy: 2 } },
  decision: { pool: 'web', at: ms, action: 'hold', from: 2, reason: 'steady', inputs: { series: {}, min: 2, max: 8, schedules: [] } },
});

test('list is newest first, filtered by since and until (both inclusive), limited', (t) => {
  const j = new DecisionJournal();
  for (let i = 0; i < 10; i++) j.record(at(NOW + i * 1000));
  t.deepEqual(j.list({ limit: 3 }).map((e) => e.at - NOW), [9000, 8000, 7000]);
  t.deepEqual(j.list({ since: NOW + 7000 }).map((e) => e.at - NOW), [9000, 8000, 7000]);
  t.deepEqual(j.list({ until: NOW + 2000 }).map((e) => e.at - NOW), [2000, 1000, 0]);
  t.deepEqual(j.list({ since: NOW + 3000, until: NOW + 4000 }).map((e) => e.at - NOW), [4000, 3000]);
  t.is(j.oldest(), NOW);
});

test('evaluations older than keepMs and beyond maxEntries are dropped', (t) => {
  const j = new DecisionJournal({ keepMs: 5000, maxEntries: 4 });
  for (let i = 0; i < 10; i++) j.record(at(NOW + i * 1000));
  t.deepEqual(j.list().map((e) => e.at - NOW), [9000, 8000, 7000, 6000]);
  const k = new DecisionJournal({ keepMs: 2500, maxEntries: 100 });
  for (let i = 0; i < 10; i++) k.record(at(NOW + i * 1000));
  t.deepEqual(k.list().map((e) => e.at - NOW), [9000, 8000, 7000]);
});

test('an evaluation joins each rule\'s reading (value, target) with its verdict, and says what the loop did', (t) => {
  const policy = makePolicy({ rules: [busyRule()] });
  const guests = healthy(3);
  const result = decide(policy, makeView({ guests, samples: cpuTicks(guests.map((g) => g.id), [90, 91, 92]) }), NOW);
  const d = result.decision;
  if (d.action !== 'scale-out') return t.fail(d.reason);
  const acted = evaluationOf(policy, result, { kind: 'act', decision: d }, undefined, guests, NOW);
  t.like(acted, { mode: 'auto', acted: { direction: 'scale-out', from: 3, to: 4 }, guests: { counted: 3, byState: { healthy: 3 } } });
  t.is(acted.hold, undefined);
  t.deepEqual(acted.rules, [{ rule: 'busy', metric: 'cpu', strategy: 'threshold', value: 92, above: 70, series: [90, 91, 92], wants: 4, reason: 'cpu mean 91.0% > 70% for 3 samples (90.0, 91.0, 92.0)' }]);
  const held = evaluationOf(policy, result, { kind: 'hold', hold: { cause: 'breaker', remainingMs: 1000, consecutiveFailures: 3 } }, undefined, guests, NOW);
  t.deepEqual(held.hold, { cause: 'breaker', remainingMs: 1000, consecutiveFailures: 3 });
  t.is(held.acted, undefined);
});
