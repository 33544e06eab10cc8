import test from 'ava';
import { makePolicy, NOW, rpsRule, busyRule } from '../decision/test-helpers.ts';
import type { MetricValues, PoolSample } from '../domain/types.ts';
import { absenceThresholdMs, MetricAbsence } from './metric-absence.ts';

const policy = makePolicy({ rules: [rpsRule({ source: 'guest' }), busyRule({ source: 'hypervisor' })] });
const at = (s: number, guests: Record<string, MetricValues>): [PoolSample, number] => [{ at: NOW + s * 1000, guests }, NOW + s * 1000];

test('the threshold is a minute, or three samples when they are further apart', (t) => {
  t.is(absenceThresholdMs(policy), 60_000);
  t.is(absenceThresholdMs(makePolicy({ sampling: { intervalMs: 30_000, windowMs: 300_000 } })), 90_000);
});

test('one warn line when a rule\'s metric is missing from every reporting guest for the threshold, one info line when it is back', (t) => {
  const a = new MetricAbsence();
  const notes = [];
  // The guests report cpu but call their rate "requests_per_second".
  for (let s = 0; s <= 120; s += 5) notes.push(...a.observe(policy, ...at(s, { g1: { cpu: 40, requests_per_second: 3 }, g2: { cpu: 50 } })));
  t.deepEqual(notes, [{
    level: 'warn',
    message: 'no guest has reported metric rps for 60s, so rule rps cannot decide (on_missing: hold); the guests report cpu, requests_per_second: check the guest\'s /metrics and guest.metrics',
    fields: { pool: 'web', rule: 'rps', metric: 'rps', source: 'guest', reported: ['cpu', 'requests_per_second'] },
  }]);
  t.deepEqual(a.observe(policy, ...at(125, { g1: { cpu: 40, rps: 3 } })), [{ level: 'info', message: 'metric rps is reported again; rule rps decides again', fields: { pool: 'web', rule: 'rps', metric: 'rps' } }]);
});

test('a metric reported by one guest is not missing', (t) => {
  const a = new MetricAbsence();
  for (let s = 0; s <= 300; s += 5) t.deepEqual(a.observe(policy, ...at(s, { g1: { cpu: 40, rps: 1 }, g2: { cpu: 50 } })), []);
});

test('samples in which no guest reported anything neither start nor reset the clock', (t) => {
  const a = new MetricAbsence();
  t.deepEqual(a.observe(policy, ...at(0, { g1: { cpu: 40 } })), []);
  for (let s = 5; s < 300; s += 5) t.deepEqual(a.observe(policy, ...at(s, {})), []);
  t.is(a.observe(policy, ...at(300, { g1: { cpu: 40 } })).length, 1);
});

test('a rule removed by a reload is forgotten', (t) => {
  const a = new MetricAbsence();
  a.observe(policy, ...at(0, { g1: { cpu: 40 } }));
  const cpuOnly = makePolicy({ rules: [busyRule({ source: 'hypervisor' })] });
  a.observe(cpuOnly, ...at(30, { g1: { cpu: 40 } }));
  // Back again: the clock starts afresh.
  t.deepEqual(a.observe(policy, ...at(70, { g1: { cpu: 40 } })), []);
  t.is(a.observe(policy, ...at(130, { g1: { cpu: 40 } })).length, 1);
});
