import test from 'ava';
import { makePolicy, rpsRule, busyRule } from '../decision/test-helpers.ts';
import { diffPolicies, formatChange } from './policy-diff.ts';

test('a reload\'s changes are named by their file keys, old -> new, durations as durations', (t) => {
  const before = makePolicy({ rules: [rpsRule(), busyRule()] });
  const after = makePolicy({
    ...before,
    file: '/elsewhere/web.yaml',
    max: before.max - 2,
    scaleIn: { ...before.scaleIn, cooldownMs: 120_000 },
    breaker: { ...before.breaker, openMs: 600_000 },
    guest: { ...before.guest, healthPath: '/ready' },
    rules: [busyRule({ above: 85, step: { kind: 'percent', value: 50 } }), rpsRule({ target: 50 })],
  });
  t.deepEqual(diffPolicies(before, after).map(formatChange), [
    'max 8 -> 6',
    'guest.health_path /healthz -> /ready',
    'scale_in.cooldown 1m -> 2m',
    'rules[rps].target 40 -> 50',
    'rules[busy].above 70 -> 85',
    'rules[busy].step +1 -> +50%',
    'breaker.open_for 5m -> 10m',
  ]);
});

test('an added or removed rule is one change each; an unchanged policy has none', (t) => {
  const before = makePolicy({ rules: [rpsRule(), busyRule()] });
  t.deepEqual(diffPolicies(before, { ...before, file: '/moved.yaml' }), [], 'the file it came from is not content');
  const changes = diffPolicies(before, { ...before, rules: [rpsRule(), busyRule({ name: 'hot' })] }).map(formatChange);
  t.is(changes.length, 2);
  t.regex(changes[0]!, /^rules\[busy\] \{"name":"busy",.*-> \(none\)$/);
  t.regex(changes[1]!, /^rules\[hot\] \(none\) -> \{"name":"hot",/);
  t.true(changes.every((c) => c.length < 200), 'long values are cut');
});
