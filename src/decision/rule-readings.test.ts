import test from 'ava';
import { decide } from './decide.ts';
import { ruleReadings } from './rule-readings.ts';
import { NOW, busyRule, healthy, makePolicy, makeView, rpsRule, ticks } from './test-helpers.ts';

test('each rule reads its latest aggregated value next to its target or bound', (t) => {
  const policy = makePolicy({ rules: [busyRule(), rpsRule()] });
  const guests = healthy(2);
  const samples = ticks(guests.map((g) => g.id), [{ cpu: 60, rps: 30 }, { cpu: 65, rps: 32 }, { cpu: 50, rps: 20 }]);
  const { decision } = decide(policy, makeView({ guests, samples }, policy), NOW);
  t.deepEqual(ruleReadings(policy, decision), [
    { rule: 'busy', metric: 'cpu', strategy: 'threshold', value: 50, above: 70, series: [60, 65, 50] },
    { rule: 'rps', metric: 'rps', strategy: 'target-tracking', value: 20, target: 40, series: [32, 20] },
  ]);
});

test('a rule without values this tick has no value, only its target', (t) => {
  const policy = makePolicy({ rules: [rpsRule()] });
  const guests = healthy(2);
  const { decision } = decide(policy, makeView({ guests, samples: ticks(guests.map((g) => g.id), [{ cpu: 10, rps: null }]) }, policy), NOW);
  const [r] = ruleReadings(policy, decision);
  t.is(r!.value, undefined);
  t.is(r!.target, 40);
  t.deepEqual(r!.series, []);
});
