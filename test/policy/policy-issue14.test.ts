// The opt-in keys of issue 14 (flap_budget, contention, guest.credit): each default, each accepted form and each
// refusal with the file, line and field it names.
import test from 'ava';
import { tryParsePolicy } from '../../src/policy/parse-policy.ts';
import { TEMPLATES, testAccepts, testRejects, type Accept, type Obj, type Reject } from './policy-cases.ts';

const accepts: Accept[] = [
  { rule: 'no flap budget by default', patch: () => {}, get: (p) => p.flapBudget, want: undefined },
  { rule: 'flap_budget: changes and window', patch: (p) => (p.flap_budget = { changes: 6, window: '10m' }), get: (p) => p.flapBudget, want: { changes: 6, windowMs: 600_000 } },
  { rule: 'no contention by default', patch: () => {}, get: (p) => p.contention, want: undefined },
  { rule: 'contention: true is short for saturated_at 0.9', patch: (p) => (p.contention = true), get: (p) => p.contention, want: { saturatedAt: 0.9 } },
  { rule: 'contention: false is off', patch: (p) => (p.contention = false), get: (p) => p.contention, want: undefined },
  { rule: 'contention.saturated_at sets the threshold', patch: (p) => (p.contention = { saturated_at: 0.75 }), get: (p) => p.contention, want: { saturatedAt: 0.75 } },
  { rule: 'contention: {} takes the default threshold', patch: (p) => (p.contention = {}), get: (p) => p.contention, want: { saturatedAt: 0.9 } },
];
testAccepts(accepts);

const xen = (p: Obj, credit?: unknown) => {
  p.guest = { driver: 'xen', template: 'web.xen.xl.cfg', image: '/srv/images/web.img', ...(credit !== undefined ? { credit } : {}) };
};
const xenAccepts: Accept[] = [
  { rule: 'no guest.credit by default', patch: (p) => xen(p), get: (p) => p.guest.credit, want: undefined },
  { rule: 'guest.credit: weight and cap for a xen pool', patch: (p) => xen(p, { weight: 512, cap: 50 }), get: (p) => p.guest.credit, want: { weight: 512, cap: 50 } },
  { rule: 'guest.credit may set only the weight', patch: (p) => xen(p, { weight: 64 }), get: (p) => p.guest.credit, want: { weight: 64 } },
  { rule: 'guest.credit.cap 0 is no cap', patch: (p) => xen(p, { cap: 0 }), get: (p) => p.guest.credit, want: { cap: 0 } },
  { rule: 'no guest.vertical by default', patch: (p) => xen(p), get: (p) => p.guest.vertical, want: undefined },
  { rule: 'guest.vertical: vcpu_step and memory_step_mb for a xen pool', patch: (p) => { xen(p); p.guest.vertical = { vcpu_step: 2, memory_step_mb: 256 }; }, get: (p) => p.guest.vertical, want: { vcpuStep: 2, memoryStepMb: 256 } },
  { rule: 'guest.vertical: true is +1 vCPU a step, memory left alone', patch: (p) => { xen(p); p.guest.vertical = true; }, get: (p) => p.guest.vertical, want: { vcpuStep: 1, memoryStepMb: 0 } },
];
testAccepts(xenAccepts);

const rejects: Reject[] = [
  { rule: 'flap_budget.changes is required', patch: (p) => (p.flap_budget = { window: '10m' }), path: 'flap_budget.changes', message: /is required/ },
  { rule: 'flap_budget.window is required', patch: (p) => (p.flap_budget = { changes: 6 }), path: 'flap_budget.window', message: /is required/ },
  { rule: 'flap_budget.changes is at least 1', patch: (p) => (p.flap_budget = { changes: 0, window: '10m' }), path: 'flap_budget.changes', message: />= 1/ },
  { rule: 'flap_budget.changes is an integer', patch: (p) => (p.flap_budget = { changes: 2.5, window: '10m' }), path: 'flap_budget.changes', message: /integer/ },
  { rule: 'flap_budget.window is a duration', patch: (p) => (p.flap_budget = { changes: 6, window: 'soon' }), path: 'flap_budget.window', message: /duration/ },
  { rule: 'flap_budget.window is at most 24h', patch: (p) => (p.flap_budget = { changes: 6, window: '25h' }), path: 'flap_budget.window', message: /at most 24h/ },
  { rule: 'flap_budget takes only its keys', patch: (p) => (p.flap_budget = { changes: 6, window: '10m', per: 'pool' }), path: 'flap_budget.per', message: /unknown key/ },
  { rule: 'flap_budget is a mapping', patch: (p) => (p.flap_budget = 6), path: 'flap_budget', message: /mapping/ },
  { rule: 'contention.saturated_at is above 0', patch: (p) => (p.contention = { saturated_at: 0 }), path: 'contention.saturated_at', message: /> 0/ },
  { rule: 'contention.saturated_at is at most 1', patch: (p) => (p.contention = { saturated_at: 1.5 }), path: 'contention.saturated_at', message: /<= 1/ },
  { rule: 'contention takes only its keys', patch: (p) => (p.contention = { threshold: 0.9 }), path: 'contention.threshold', message: /unknown key/ },
  { rule: 'guest.credit is for guest.driver: xen', patch: (p) => (p.guest.credit = { weight: 512 }), path: 'guest.credit', message: /is for guest.driver: xen/ },
  { rule: 'guest.credit.weight is 1-65535', patch: (p) => xen(p, { weight: 0 }), path: 'guest.credit.weight', message: />= 1/ },
  { rule: 'guest.credit.weight is at most 65535', patch: (p) => xen(p, { weight: 70000 }), path: 'guest.credit.weight', message: /<= 65535/ },
  { rule: 'guest.credit.cap is not negative', patch: (p) => xen(p, { cap: -1 }), path: 'guest.credit.cap', message: />= 0/ },
  { rule: 'guest.credit.cap is an integer (% of one CPU)', patch: (p) => xen(p, { cap: 12.5 }), path: 'guest.credit.cap', message: /integer/ },
  { rule: 'guest.credit.weight is a number, never text for a shell', patch: (p) => xen(p, { weight: '512; reboot' }), path: 'guest.credit.weight', message: /must be an integer/ },
  { rule: 'guest.credit sets weight or cap', patch: (p) => xen(p, {}), path: 'guest.credit', message: /neither weight nor cap/ },
  { rule: 'guest.credit takes only its keys', patch: (p) => xen(p, { weight: 1, period: 5 }), path: 'guest.credit.period', message: /unknown key/ },
  { rule: 'guest.vertical is for guest.driver: xen (local cannot resize)', patch: (p) => (p.guest.vertical = { vcpu_step: 1 }), path: 'guest.vertical', message: /is for guest.driver: xen/ },
  { rule: 'guest.vertical.vcpu_step is a whole number', patch: (p) => { xen(p); p.guest.vertical = { vcpu_step: 1.5 }; }, path: 'guest.vertical.vcpu_step', message: /integer/ },
  { rule: 'guest.vertical steps something', patch: (p) => { xen(p); p.guest.vertical = { vcpu_step: 0 }; }, path: 'guest.vertical', message: /neither vCPUs nor memory/ },
  { rule: 'guest.vertical takes only its keys', patch: (p) => { xen(p); p.guest.vertical = { memory: 5 }; }, path: 'guest.vertical.memory', message: /unknown key/ },
  { rule: 'contention is true, false or a mapping', patch: (p) => (p.contention = 'yes please'), path: 'contention', message: /true or false|boolean/ },
];
testRejects(rejects);

test('a bad flap_budget names the file, line and column of the field', (t) => {
  const text = 'pool: web\nguest:\n  template: web.local.yaml\n  image: images/web\nflap_budget:\n  changes: 6\n  window: 90x\nrules:\n  - { name: busy, strategy: threshold, metric: cpu, above: 70, step: +1 }\n';
  const r = tryParsePolicy(text, 'web.yaml', { templatesDir: TEMPLATES });
  if (r.ok) return t.fail('accepted');
  t.is(r.issues.length, 1, r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  t.like(r.issues[0], { file: 'web.yaml', line: 7, col: 11, path: 'flap_budget.window' });
});
