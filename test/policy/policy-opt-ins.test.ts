// The opt-in keys of issue 12 (victims, hooks, mode, rollout, prometheus and signal rules): each
// default, each accepted form and each refusal, one issue per rejected case.
import test from 'ava';
import type { Policy } from '../../src/domain/policy.ts';
import { TEMPLATES, runPatched as run, testAccepts, testRejects, type Accept, type Obj, type Reject } from './policy-cases.ts';

const PROM = { prometheus: true };
const promRule = (extra: Obj = {}): Obj => ({ name: 'rps', strategy: 'target-tracking', source: 'prometheus', query: 'sum(rate(guest_requests_total{pool="{{pool}}"}[30s]))', aggregate: 'sum', target: 50, ...extra });

export const accepts: Accept[] = [
  // source: prometheus
  { rule: 'a rule without source: prometheus has no query', patch: () => {}, get: (p) => p.rules[0]!.promql, want: undefined },
  { rule: 'a source: prometheus rule keeps its query and reads the metric key of its name', patch: (p) => (p.rules = [promRule()]), opts: PROM, get: (p) => [p.rules[0]!.promql, p.rules[0]!.metric, p.rules[0]!.source], want: ['sum(rate(guest_requests_total{pool="{{pool}}"}[30s]))', 'prometheus:rps', undefined] },
  { rule: 'without a configured server a prometheus rule is not checked (simulator)', patch: (p) => (p.rules = [promRule()]), get: (p) => p.rules[0]!.metric, want: 'prometheus:rps' },
  { rule: 'mode defaults to act', patch: () => {}, get: (p) => p.mode, want: 'act' },
  { rule: 'mode may be recommend', patch: (p) => (p.mode = 'recommend'), get: (p) => p.mode, want: 'recommend' },
  { rule: 'scale_in.victims defaults to newest', patch: () => {}, get: (p) => p.scaleIn.victims, want: 'newest' },
  ...(['oldest', 'least-busy', 'spread'] as const).map((v) => ({ rule: `scale_in.victims may be ${v}`, patch: (p: Obj) => (p.scale_in = { victims: v }), get: (p: Policy) => p.scaleIn.victims, want: v })),
  // hooks
  { rule: 'no hooks by default', patch: () => {}, get: (p) => p.hooks, want: {} },
  {
    rule: 'a command hook: an argument list, timeout 30s and on_failure abandon by default',
    patch: (p) => (p.hooks = { before_register: { command: ['/usr/local/bin/warm-cache', '--url', 'http://{{address}}/'] } }),
    get: (p) => p.hooks,
    want: { before_register: { kind: 'command', command: ['/usr/local/bin/warm-cache', '--url', 'http://{{address}}/'], timeoutMs: 30_000, onFailure: 'abandon' } },
  },
  {
    rule: 'a relative program path is resolved under the templates folder; a bare name is looked up in the hook PATH',
    patch: (p) => (p.hooks = { before_register: { command: ['hooks/warm-up.mjs'] }, before_retire: { command: ['node', 'x.mjs'], timeout: '5s', on_failure: 'continue' } }),
    get: (p) => [p.hooks?.before_register, p.hooks?.before_retire],
    want: [
      { kind: 'command', command: [`${TEMPLATES}/hooks/warm-up.mjs`], timeoutMs: 30_000, onFailure: 'abandon' },
      { kind: 'command', command: ['node', 'x.mjs'], timeoutMs: 5_000, onFailure: 'continue' },
    ],
  },
  {
    rule: 'an http hook: POST by default, headers kept as written',
    patch: (p) => (p.hooks = { before_retire: { http: { url: 'https://monitor.example/api/hosts/{{guest}}', headers: { Authorization: 'Bearer x' } }, timeout: '10s' } }),
    get: (p) => p.hooks?.before_retire,
    want: { kind: 'http', url: 'https://monitor.example/api/hosts/{{guest}}', method: 'POST', headers: { Authorization: 'Bearer x' }, timeoutMs: 10_000, onFailure: 'abandon' },
  },
  // rollout
  { rule: 'rollout defaults to manual, max_surge 1, max_unavailable 0, no pause', patch: () => {}, get: (p) => p.rollout, want: { mode: 'manual', maxSurge: 1, maxUnavailable: 0, pauseMs: 0 } },
  { rule: 'rollout: auto is short for rollout: { mode: auto }', patch: (p) => (p.rollout = 'auto'), get: (p) => p.rollout, want: { mode: 'auto', maxSurge: 1, maxUnavailable: 0, pauseMs: 0 } },
  { rule: 'rollout keys: mode, max_surge, max_unavailable, pause', patch: (p) => (p.rollout = { mode: 'auto', max_surge: 2, max_unavailable: 1, pause: '30s' }), get: (p) => p.rollout, want: { mode: 'auto', maxSurge: 2, maxUnavailable: 1, pauseMs: 30_000 } },
  { rule: 'rollout.max_surge may be 0 when max_unavailable is not', patch: (p) => (p.rollout = { max_surge: 0, max_unavailable: 1 }), get: (p) => p.rollout?.maxSurge, want: 0 },
];

export const rejects: Reject[] = [
  // source: prometheus
  { rule: 'source is hypervisor, guest, balancer or prometheus', patch: (p) => (p.rules[0].source = 'graphite'), path: 'rules.0.source', message: /hypervisor \| guest \| balancer \| prometheus/ },
  { rule: 'a prometheus rule needs a configured server', patch: (p) => (p.rules = [promRule()]), opts: { prometheus: false }, path: 'rules.0.source', message: /prometheus\.url in gridhost\.yaml/ },
  { rule: 'a prometheus rule needs a query', patch: (p) => (p.rules = [promRule({ query: undefined })]), opts: PROM, path: 'rules.0.query', message: /required/ },
  { rule: 'a prometheus query is not empty', patch: (p) => (p.rules = [promRule({ query: '  ' })]), opts: PROM, path: 'rules.0.query', message: /PromQL query returning one number/ },
  { rule: 'a prometheus query uses only {{pool}}', patch: (p) => (p.rules = [promRule({ query: 'up{job="{{job}}"}' })]), opts: PROM, path: 'rules.0.query', message: /unknown placeholder \{\{job\}\}/ },
  { rule: 'a prometheus rule takes no metric', patch: (p) => (p.rules = [promRule({ metric: 'rps' })]), opts: PROM, path: 'rules.0.metric', message: /leave metric out/ },
  { rule: 'a guests rule takes no query', patch: (p) => (p.rules[0].query = 'up'), path: 'rules.0.query', message: /query is for source: prometheus/ },
  { rule: 'mode is act or recommend', patch: (p) => (p.mode = 'dry-run'), path: 'mode', message: /act \| recommend/ },
  // hooks
  { rule: 'hooks are before_register and before_retire only', patch: (p) => (p.hooks = { after_boot: { command: ['x'] } }), path: 'hooks.after_boot', message: /unknown key/ },
  { rule: 'a hook command is never a shell string', patch: (p) => (p.hooks = { before_register: { command: 'curl http://x | sh' } }), path: 'hooks.before_register.command', message: /must be a list.*never run/ },
  { rule: 'a hook command is not empty', patch: (p) => (p.hooks = { before_register: { command: [] } }), path: 'hooks.before_register.command', message: /must not be empty/ },
  { rule: 'hook arguments are strings', patch: (p) => (p.hooks = { before_register: { command: ['x', 42] } }), path: 'hooks.before_register.command.1', message: /must be a string/ },
  { rule: 'hook arguments use only known placeholders', patch: (p) => (p.hooks = { before_register: { command: ['x', '{{token}}'] } }), path: 'hooks.before_register.command.1', message: /unknown placeholder \{\{token\}\}/ },
  { rule: 'the hook program is fixed (no placeholder)', patch: (p) => (p.hooks = { before_register: { command: ['{{guest}}'] } }), path: 'hooks.before_register.command.0', message: /fixed name or path/ },
  { rule: 'a relative hook program stays inside the templates folder', patch: (p) => (p.hooks = { before_register: { command: ['../bin/x'] } }), path: 'hooks.before_register.command.0', message: /inside the templates folder/ },
  { rule: 'a hook is exactly one of command or http', patch: (p) => (p.hooks = { before_register: { command: ['x'], http: { url: 'http://a/' } } }), path: 'hooks.before_register.http', message: /exactly one of command/ },
  { rule: 'a hook needs a command or http', patch: (p) => (p.hooks = { before_register: { timeout: '5s' } }), path: 'hooks.before_register', message: /exactly one of command/ },
  { rule: 'an http hook URL is http(s)', patch: (p) => (p.hooks = { before_retire: { http: { url: 'file:///etc/passwd' } } }), path: 'hooks.before_retire.http.url', message: /http:\/\/ or https:\/\// },
  { rule: 'an http hook method is POST, PUT, GET or DELETE', patch: (p) => (p.hooks = { before_retire: { http: { url: 'http://a/', method: 'PATCH' } } }), path: 'hooks.before_retire.http.method', message: /POST \| PUT \| GET \| DELETE/ },
  { rule: 'an http hook header value has no newline (header injection)', patch: (p) => (p.hooks = { before_retire: { http: { url: 'http://a/', headers: { 'X-A': 'a\r\nX-Evil: 1' } } } }), path: 'hooks.before_retire.http.headers.X-A', message: /control characters/ },
  { rule: 'an http hook may not set content-type (gridhost sends JSON)', patch: (p) => (p.hooks = { before_retire: { http: { url: 'http://a/', headers: { 'Content-Type': 'text/plain' } } } }), path: 'hooks.before_retire.http.headers.Content-Type', message: /not content-type/ },
  { rule: 'a hook timeout is a positive duration', patch: (p) => (p.hooks = { before_retire: { command: ['x'], timeout: '0s' } }), path: 'hooks.before_retire.timeout', message: /longer than 0/ },
  { rule: 'a hook timeout is at most 1h', patch: (p) => (p.hooks = { before_retire: { command: ['x'], timeout: '2h' } }), path: 'hooks.before_retire.timeout', message: /at most 1h/ },
  { rule: 'on_failure is abandon or continue', patch: (p) => (p.hooks = { before_retire: { command: ['x'], on_failure: 'retry' } }), path: 'hooks.before_retire.on_failure', message: /abandon \| continue/ },

  // rollout
  { rule: 'rollout is manual or auto', patch: (p) => (p.rollout = 'always'), path: 'rollout', message: /manual \| auto/ },
  { rule: 'rollout.mode is manual or auto', patch: (p) => (p.rollout = { mode: 'yes' }), path: 'rollout.mode', message: /manual \| auto/ },
  { rule: 'rollout.max_surge and max_unavailable are not both 0', patch: (p) => (p.rollout = { max_surge: 0 }), path: 'rollout.max_surge', message: /cannot both be 0/ },
  { rule: 'rollout.max_surge is at most limits.hard_max', patch: (p) => (p.rollout = { max_surge: 9 }), path: 'rollout.max_surge', message: /hard_max/ },
  { rule: 'rollout.pause is a duration', patch: (p) => (p.rollout = { pause: 'soon' }), path: 'rollout.pause', message: /duration/ },
  { rule: 'rollout takes only its keys', patch: (p) => (p.rollout = { surge: 1 }), path: 'rollout.surge', message: /unknown key/ },

  { rule: 'scale_in.victims is one of the known orders', patch: (p) => (p.scale_in = { victims: 'random' }), path: 'scale_in.victims', message: /newest \| oldest \| least-busy \| spread/ },
];

testAccepts(accepts);
testRejects(rejects);

test('a refused hook header value or URL is never echoed in the issue (it may be a credential)', (t) => {
  const bad = run((p) => (p.hooks = { before_retire: { http: { url: 'ftp://user:s3cret@a/', headers: { Authorization: 'Bearer s3cret\n' } } } }));
  if (bad.ok) return t.fail('accepted');
  t.is(bad.issues.length, 2);
  for (const i of bad.issues) {
    t.is(i.found, undefined, i.path);
    t.notRegex(i.message, /s3cret/);
  }
});

test('an absolute hook program must exist when the loader checks files', (t) => {
  const r = run((p) => (p.hooks = { before_register: { command: ['/opt/missing/warm'] } }), { exists: (f) => !f.startsWith('/opt/') });
  if (r.ok) return t.fail('accepted');
  t.is(r.issues.length, 1);
  t.regex(r.issues[0]!.message, /program not found: \/opt\/missing\/warm/);
});
