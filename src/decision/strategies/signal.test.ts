import test from 'ava';
import type { SignalRule } from '../../domain/policy.ts';
import { decide } from '../decide.ts';
import { acceptSignals, serveSignals, servedSignals } from '../signal-book.ts';
import { healthy, makePolicy, makeView, NOW, rpsRule, ticks } from '../test-helpers.ts';
import { signalStrategy } from './signal.ts';

const DAY = 24 * 3600_000;
const burst: SignalRule = { name: 'burst', strategy: 'signal', step: { kind: 'count', value: 2 }, cooldownMs: 300_000, expiresMs: 600_000 };
const calm: SignalRule = { name: 'calm', strategy: 'signal', step: { kind: 'count', value: -1 }, cooldownMs: 0, expiresMs: 600_000 };
const alert = (key: string, rule = 'burst') => ({ key, rule, from: `alert HighLatency (fingerprint ${key})` });
const policy = makePolicy({ signalRules: [burst, calm], scaleOut: { cooldownMs: 30_000, whileBooting: 'add' } });
const bookWith = (...keys: string[]) => acceptSignals(undefined, keys.map((k) => alert(k)), NOW - 1000, DAY).book;

test('no pending signal: no opinion and nothing said', (t) => {
  t.deepEqual(signalStrategy({ config: burst, pending: [], current: 3, now: NOW }), {});
});

test('a pending signal asks for its step on the counted size and names the alert', (t) => {
  const pending = bookWith('fp1').entries;
  const r = signalStrategy({ config: burst, pending, current: 3, now: NOW });
  t.is(r.opinion?.desired, 5);
  t.is(r.opinion?.reason, 'signal burst +2: alert HighLatency (fingerprint fp1)');
  t.is(signalStrategy({ config: { ...burst, step: { kind: 'percent', value: 50 } }, pending, current: 3, now: NOW }).opinion?.desired, 5);
});

test('a signal waits while its rule is in cooldown, saying how long', (t) => {
  const pending = bookWith('fp1').entries;
  const r = signalStrategy({ config: burst, pending, lastServedAt: NOW - 60_000, current: 3, now: NOW });
  t.is(r.opinion, undefined);
  t.is(r.note, "signal burst (alert HighLatency (fingerprint fp1)) waits for the rule's cooldown, another 240s");
  t.is(signalStrategy({ config: burst, pending, lastServedAt: NOW - 300_000, current: 3, now: NOW }).opinion?.desired, 5);
});

test('decide scales out on a pending signal, its reason naming the signal, and the action serves it', (t) => {
  const view = makeView({ guests: healthy(3), signals: bookWith('fp1') }, policy);
  const r = decide(policy, view, NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(r.decision.reason, 'scale-out 3 -> 5: signal burst +2: alert HighLatency (fingerprint fp1)');
  t.is(r.decision.inputs.rule, 'burst');
  t.deepEqual(r.signals, [{ rule: 'burst', wants: 5, keys: ['fp1'] }]);
  t.deepEqual(servedSignals(r.decision, r.signals), ['fp1']);
});

test('several pending signals of one rule make one step', (t) => {
  const r = decide(policy, makeView({ guests: healthy(3), signals: bookWith('fp1', 'fp2', 'fp3') }, policy), NOW);
  t.is(r.decision.action === 'scale-out' && r.decision.to, 5);
  t.deepEqual(r.signals?.[0]?.keys, ['fp1', 'fp2', 'fp3']);
  t.regex(r.decision.reason, /fingerprint fp1\) and 2 more signals/);
});

test('a signal stays within max and is held by the pool cooldown', (t) => {
  const atMax = decide(policy, makeView({ guests: healthy(8), signals: bookWith('fp1') }, policy), NOW);
  t.is(atMax.decision.action, 'hold');
  t.is(atMax.hold?.cause, 'at-max');
  t.deepEqual(servedSignals(atMax.decision, atMax.signals), []);
  const capped = decide(policy, makeView({ guests: healthy(7), signals: bookWith('fp1') }, policy), NOW);
  t.is(capped.decision.action === 'scale-out' && capped.decision.to, 8);
  t.deepEqual(servedSignals(capped.decision, capped.signals), ['fp1'], 'all that max allows serves it');
  const cooling = decide(policy, makeView({ guests: healthy(3), signals: bookWith('fp1'), lastScaleOutAt: NOW - 10_000 }, policy), NOW);
  t.is(cooling.hold?.cause, 'cooldown');
  t.regex(cooling.decision.reason, /signal burst \+2/);
});

test('a served signal is not acted on again, and an expired one never', (t) => {
  const served = serveSignals(bookWith('fp1'), ['fp1'], NOW - 500, 'x');
  const r = decide(policy, makeView({ guests: healthy(3), signals: served }, policy), NOW);
  t.is(r.decision.action, 'hold');
  t.is(r.signals, undefined);
  const old = acceptSignals(undefined, [alert('fp9')], NOW - 600_000, DAY).book;
  t.is(decide(policy, makeView({ guests: healthy(3), signals: old }, policy), NOW).decision.action, 'hold');
});

test('the rule cooldown holds a new signal after one was served, in the reason', (t) => {
  const book = acceptSignals(serveSignals(bookWith('fp1'), ['fp1'], NOW - 60_000, 'x'), [alert('fp2')], NOW - 1000, DAY).book;
  const r = decide(policy, makeView({ guests: healthy(3), signals: book }, policy), NOW);
  t.is(r.decision.action, 'hold');
  t.regex(r.decision.reason, /waits for the rule's cooldown, another 240s/);
});

test('a scale-in signal goes through stabilization and min like any rule', (t) => {
  const book = acceptSignals(undefined, [alert('c1', 'calm')], NOW - 1000, DAY).book;
  const p = makePolicy({ signalRules: [calm] });
  const free = decide(p, makeView({ guests: healthy(4), signals: book }, p), NOW);
  t.is(free.decision.action === 'scale-in' && free.decision.to, 3);
  const held = decide(p, makeView({ guests: healthy(4), signals: book, recommendations: [{ at: NOW - 30_000, desired: 4 }] }, p), NOW);
  t.is(held.hold?.cause, 'stabilization');
  t.is(decide(p, makeView({ guests: healthy(2), signals: book }, p), NOW).hold?.cause, 'at-min');
});

test('the highest opinion wins between a signal and a metric rule', (t) => {
  const p = makePolicy({ rules: [rpsRule({ for: 1 })], signalRules: [burst], warmupMs: 0 });
  const ids = ['web-1', 'web-2', 'web-3'];
  const r = decide(p, makeView({ guests: healthy(3), samples: ticks(ids, [{ rps: 40 * 3 }]), signals: bookWith('fp1') }, p), NOW);
  t.is(r.decision.action === 'scale-out' && r.decision.to, 8, 'rps wants 9, capped at 8');
  t.is(r.decision.inputs.rule, 'rps');
  t.deepEqual(servedSignals(r.decision, r.signals), ['fp1'], 'the larger scale-out serves the signal too');
});
