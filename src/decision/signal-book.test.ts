import test from 'ava';
import type { SignalRule } from '../domain/policy.ts';
import type { Decision } from '../domain/types.ts';
import { acceptSignals, emptyBook, lastServedAt, MAX_SIGNALS, pendingFor, pruneBook, servedSignals, serveSignals, signalState } from './signal-book.ts';
import { NOW } from './test-helpers.ts';

const DAY = 24 * 3600_000;
const burst: SignalRule = { name: 'burst', strategy: 'signal', step: { kind: 'count', value: 2 }, cooldownMs: 300_000, expiresMs: 600_000 };
const offer = (key: string, rule = 'burst') => ({ key, rule, from: `alert ${key}` });

test('a key seen before is a duplicate, pending or served, and the book is left unchanged by it', (t) => {
  const first = acceptSignals(undefined, [offer('am:fp1:t0')], NOW, DAY);
  t.deepEqual(first.accepted.map((e) => e.key), ['am:fp1:t0']);
  const again = acceptSignals(first.book, [offer('am:fp1:t0')], NOW + 1000, DAY);
  t.deepEqual(again.accepted, []);
  t.deepEqual(again.duplicates.map((e) => e.key), ['am:fp1:t0']);
  t.is(again.book.entries.length, 1);
  const served = serveSignals(again.book, ['am:fp1:t0'], NOW + 2000, 'scale-out 2 -> 4');
  const later = acceptSignals(served, [offer('am:fp1:t0')], NOW + 3_600_000, DAY);
  t.deepEqual(later.accepted, []);
  t.is(later.duplicates[0]!.servedAt, NOW + 2000);
});

test('one key twice in one delivery is accepted once', (t) => {
  const r = acceptSignals(emptyBook(), [offer('a'), offer('a'), offer('b')], NOW, DAY);
  t.deepEqual(r.accepted.map((e) => e.key), ['a', 'b']);
  t.deepEqual(r.duplicates.map((e) => e.key), ['a']);
});

test('keys are forgotten after webhook.remember, so a much later delivery is a new signal', (t) => {
  const first = acceptSignals(undefined, [offer('a')], NOW, DAY);
  t.deepEqual(acceptSignals(first.book, [offer('a')], NOW + DAY - 1, DAY).accepted, []);
  t.deepEqual(acceptSignals(first.book, [offer('a')], NOW + DAY, DAY).accepted.map((e) => e.key), ['a']);
});

test('the book keeps at most MAX_SIGNALS keys, dropping the oldest', (t) => {
  let book = emptyBook();
  for (let i = 0; i < MAX_SIGNALS + 10; i++) book = acceptSignals(book, [offer(`k${i}`)], NOW + i, DAY).book;
  t.is(book.entries.length, MAX_SIGNALS);
  t.is(book.entries[0]!.key, 'k10');
  t.is(pruneBook(book, NOW + MAX_SIGNALS + 10, DAY).entries.length, MAX_SIGNALS);
});

test('a signal is pending until served or until its rule expires it', (t) => {
  const { book } = acceptSignals(undefined, [offer('a'), offer('x', 'other')], NOW, DAY);
  t.deepEqual(pendingFor(book, burst, NOW + 599_999).map((e) => e.key), ['a']);
  t.deepEqual(pendingFor(book, burst, NOW + 600_000), []);
  t.is(signalState(book.entries[0]!, burst, NOW + 600_000), 'expired');
  t.is(signalState(book.entries[1]!, undefined, NOW), 'expired', 'a rule gone from the policy serves nothing');
  const served = serveSignals(book, ['a'], NOW + 10, 'scale-out 2 -> 4: signal burst +2');
  t.deepEqual(pendingFor(served, burst, NOW + 20), []);
  t.is(signalState(served.entries[0]!, burst, NOW + 20), 'served');
});

test('serving starts the rule cooldown, and serving again changes nothing', (t) => {
  const { book } = acceptSignals(undefined, [offer('a')], NOW, DAY);
  const once = serveSignals(book, ['a'], NOW + 10, 'first');
  t.is(lastServedAt(once, 'burst'), NOW + 10);
  const twice = serveSignals(once, ['a', 'gone-key'], NOW + 99, 'second');
  t.deepEqual(twice, once);
  t.is(book.entries[0]!.servedAt, undefined, 'the input book is not changed');
});

const out = (from: number, to: number, max = 8): Decision => ({ pool: 'web', at: NOW, action: 'scale-out', from, to, reason: 'r', inputs: { series: {}, min: 2, max, schedules: [] } });
const inn = (from: number, to: number): Decision => ({ pool: 'web', at: NOW, action: 'scale-in', from, to, reason: 'r', inputs: { series: {}, min: 2, max: 8, schedules: [] } });

test('an action serves a signal when it gives at least what it asked, or all the bounds allow', (t) => {
  const demands = [{ rule: 'burst', wants: 5, keys: ['a'] }];
  t.deepEqual(servedSignals(out(3, 5), demands), ['a']);
  t.deepEqual(servedSignals(out(3, 6), demands), ['a']);
  t.deepEqual(servedSignals(out(3, 4), demands), [], 'a smaller step leaves it pending');
  t.deepEqual(servedSignals(out(3, 4, 4), demands), ['a'], 'capped at max');
  t.deepEqual(servedSignals(inn(3, 2), demands), [], 'the other way');
  t.deepEqual(servedSignals({ pool: 'web', at: NOW, action: 'hold', from: 3, reason: 'r', inputs: { series: {}, min: 2, max: 8, schedules: [] } }, demands), []);
  t.deepEqual(servedSignals(undefined, demands), []);
  t.deepEqual(servedSignals(inn(4, 3), [{ rule: 'calm', wants: 3, keys: ['b'] }]), ['b']);
});
