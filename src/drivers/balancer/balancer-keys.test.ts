// The balancer registry's rules: the policy parser knows balancer drivers and their keys only
// from BALANCER_KEYS, and gridhost.yaml's sections only from the drivers' own declarations.
import test from 'ava';
import { tryParsePolicy } from '../../policy/parse-policy.ts';
import { BALANCER_KEYS } from './balancer-keys.ts';

/** A valid policy whose `balancer:` section (from line 5) holds `lines`. */
function policy(lines: string[]) {
  const text = ['pool: web', 'guest:', '  template: t.yaml', '  image: images/web', 'balancer:', ...lines.map((l) => `  ${l}`), 'rules:', '  - { name: busy, strategy: threshold, metric: cpu, above: 70, step: +1 }', ''].join('\n');
  return tryParsePolicy(text, 'web.yaml', { templatesDir: '/srv/templates' });
}

test('an unknown balancer driver is refused at its line, naming every registered driver', (t) => {
  const r = policy(['driver: nginx']);
  if (r.ok) return t.fail('accepted');
  t.is(r.issues.length, 1);
  t.like(r.issues[0], { path: 'balancer.driver', line: 6, message: `must be one of ${BALANCER_KEYS.map((d) => d.name).join(' | ')}` });
});

test('balancer.driver left out is the first registered driver', (t) => {
  const r = policy(['check: { rise: 2 }']);
  t.true(r.ok && r.policy.balancer.driver === BALANCER_KEYS[0]!.name);
});

test('a key of another balancer driver is refused at its line, naming the driver it is for', (t) => {
  let pairs = 0;
  for (const chosen of BALANCER_KEYS) {
    for (const other of BALANCER_KEYS) {
      for (const key of other.policyKeys.filter((k) => !chosen.policyKeys.includes(k))) {
        pairs++;
        const r = policy([`driver: ${chosen.name}`, `${key}: x`]);
        if (r.ok) {
          t.fail(`${chosen.name} accepted ${key}`);
          continue;
        }
        t.is(r.issues.length, 1, `${chosen.name}/${key}: ${r.issues.map((i) => i.message).join('; ')}`);
        t.like(r.issues[0], { path: `balancer.${key}`, line: 7 });
        t.true(r.issues[0]!.message.startsWith(`is for balancer.driver: ${other.name}`), r.issues[0]!.message);
      }
    }
  }
  t.true(pairs > 0, 'the registered drivers have keys of their own');
});

test('every balancer driver has a name and policy keys of its own', (t) => {
  const names = BALANCER_KEYS.map((d) => d.name);
  t.deepEqual([...new Set(names)], names);
  const keys = BALANCER_KEYS.flatMap((d) => d.policyKeys);
  t.deepEqual([...new Set(keys)], keys, 'no key belongs to two drivers');
  for (const k of keys) t.false(['driver', 'check'].includes(k), `${k} is every driver's`);
});
