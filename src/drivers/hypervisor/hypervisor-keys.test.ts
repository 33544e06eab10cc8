// The hypervisor registry's rules: the policy parser knows guest drivers, how each reads
// guest.image and which clone methods each supports only from HYPERVISOR_KEYS.
import test from 'ava';
import { tryParsePolicy } from '../../policy/parse-policy.ts';
import { HYPERVISOR_KEYS } from './hypervisor-keys.ts';

/** A valid policy whose `guest:` section (from line 2) holds `lines`. */
function policy(lines: string[]) {
  const text = ['pool: web', 'guest:', ...lines.map((l) => `  ${l}`), 'rules:', '  - { name: busy, strategy: threshold, metric: cpu, above: 70, step: +1 }', ''].join('\n');
  return tryParsePolicy(text, 'web.yaml', { templatesDir: '/srv/templates' });
}
const IMAGE: Record<string, string> = { local: 'images/web', xen: '/srv/images/web.img' };

test('an unknown guest driver is refused at its line, naming every registered driver', (t) => {
  const r = policy(['driver: kvm', 'template: t.yaml', 'image: images/web']);
  if (r.ok) return t.fail('accepted');
  t.is(r.issues.length, 1, r.issues.map((i) => i.message).join('; '));
  t.like(r.issues[0], { path: 'guest.driver', line: 3, message: `must be one of ${HYPERVISOR_KEYS.map((d) => d.name).join(' | ')}` });
});

test('every hypervisor driver takes the default clone method (auto) and a policy with its own image', (t) => {
  for (const d of HYPERVISOR_KEYS) {
    t.true(d.clones.includes('auto'), d.name);
    const image = IMAGE[d.name];
    if (image === undefined) return t.fail(`no example image for ${d.name}: add one here`);
    const r = policy([`driver: ${d.name}`, 'template: t.yaml', `image: ${image}`]);
    t.true(r.ok && r.policy.guest.driver === d.name && r.policy.guest.clone === 'auto', `${d.name}: ${r.ok ? '' : r.issues.map((i) => i.message).join('; ')}`);
  }
});

test('a clone method only another driver supports is refused at its line, naming the drivers that do', (t) => {
  let cases = 0;
  const all = [...new Set(HYPERVISOR_KEYS.flatMap((d) => d.clones))];
  for (const d of HYPERVISOR_KEYS) {
    for (const clone of all.filter((c) => !d.clones.includes(c))) {
      cases++;
      const r = policy([`driver: ${d.name}`, 'template: t.yaml', `image: ${IMAGE[d.name]}`, `clone: ${clone}`]);
      if (r.ok) {
        t.fail(`${d.name} accepted clone ${clone}`);
        continue;
      }
      const owners = HYPERVISOR_KEYS.filter((o) => o.clones.includes(clone)).map((o) => o.name).join(' or ');
      t.is(r.issues.length, 1);
      t.like(r.issues[0], { path: 'guest.clone', line: 6, message: `clone ${clone} needs the ${owners} driver; the ${d.name} driver supports ${d.clones.join(' | ')}` });
    }
  }
  t.true(cases > 0, 'some driver supports a clone method another does not');
});

test('guest.image is read as the pool\'s driver names images: a dom0 path is not a local image, a templates path not a xen one', (t) => {
  const local = policy(['driver: local', 'template: t.yaml', 'image: /srv/images/web.img']);
  t.true(!local.ok && local.issues[0]?.path === 'guest.image' && /relative to the templates folder/.test(local.issues[0].message));
  const xen = policy(['driver: xen', 'template: t.yaml', 'image: images/web']);
  t.true(!xen.ok && xen.issues[0]?.path === 'guest.image' && /absolute path on dom0/.test(xen.issues[0].message));
});

test('every hypervisor driver has a name of its own', (t) => {
  const names = HYPERVISOR_KEYS.map((d) => d.name);
  t.deepEqual([...new Set(names)], names);
});
