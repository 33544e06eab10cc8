// strategy: signal rules and the webhook: section of a policy file: defaults, and every bad
// value reported with file, line and field.
import test from 'ava';
import { tryParsePolicy } from '../../src/policy/parse-policy.ts';

const TEMPLATES = '/srv/gridhost/templates';
const head = `pool: web
guest: { template: web.local.yaml, image: images/web }
`;
const parse = (text: string) => tryParsePolicy(head + text, 'web.yaml', { templatesDir: TEMPLATES });

test('a signal rule takes its defaults and is kept apart from the metric rules', (t) => {
  const r = parse(`rules:
  - { name: busy, strategy: threshold, metric: cpu, above: 70, step: +1 }
  - { name: burst, strategy: signal, step: +2 }
`);
  if (!r.ok) return t.fail(JSON.stringify(r.issues));
  t.deepEqual(r.policy.rules.map((x) => x.name), ['busy']);
  t.deepEqual(r.policy.signalRules, [{ name: 'burst', strategy: 'signal', step: { kind: 'count', value: 2 }, cooldownMs: 300_000, expiresMs: 600_000 }]);
  t.deepEqual(r.policy.webhook, { rememberMs: 24 * 3600_000 });
});

test('a policy may scale on signals only, with its own cooldown, expiry and webhook secret', (t) => {
  const r = parse(`webhook: { secret_env: GRIDHOST_WEBHOOK_WEB, remember: 2h }
rules:
  - { name: calm, strategy: signal, step: -25%, cooldown: 1m, expires: 30s }
`);
  if (!r.ok) return t.fail(JSON.stringify(r.issues));
  t.deepEqual(r.policy.rules, []);
  t.deepEqual(r.policy.signalRules, [{ name: 'calm', strategy: 'signal', step: { kind: 'percent', value: -25 }, cooldownMs: 60_000, expiresMs: 30_000 }]);
  t.deepEqual(r.policy.webhook, { secretEnv: 'GRIDHOST_WEBHOOK_WEB', rememberMs: 7_200_000 });
});

const bad: { title: string; yaml: string; line: number; path: string; message: RegExp }[] = [
  { title: 'a signal rule without a step', yaml: 'rules:\n  - { name: burst, strategy: signal }\n', line: 4, path: 'rules.0.step', message: /is required/ },
  { title: 'a step without a sign', yaml: 'rules:\n  - name: burst\n    strategy: signal\n    step: 2\n', line: 6, path: 'rules.0.step', message: /explicit sign/ },
  { title: 'a metric on a signal rule', yaml: 'rules:\n  - name: burst\n    strategy: signal\n    step: +1\n    metric: cpu\n', line: 7, path: 'rules.0.metric', message: /unknown key/ },
  { title: 'a cooldown that is no duration', yaml: 'rules:\n  - name: burst\n    strategy: signal\n    step: +1\n    cooldown: soon\n', line: 7, path: 'rules.0.cooldown', message: /duration/ },
  { title: 'expires of 0', yaml: 'rules:\n  - name: burst\n    strategy: signal\n    step: +1\n    expires: 0s\n', line: 7, path: 'rules.0.expires', message: /longer than 0/ },
  { title: 'a cooldown over 24h', yaml: 'rules:\n  - name: burst\n    strategy: signal\n    step: +1\n    cooldown: 25h\n', line: 7, path: 'rules.0.cooldown', message: /at most 24h/ },
  { title: 'a signal rule named like a metric rule', yaml: 'rules:\n  - { name: x, strategy: threshold, metric: cpu, above: 70, step: +1 }\n  - { name: x, strategy: signal, step: +1 }\n', line: 5, path: 'rules.1.name', message: /duplicate rule name/ },
  { title: 'a secret in place of a variable name', yaml: 'webhook:\n  secret_env: "s3cr3t value!"\nrules:\n  - { name: b, strategy: signal, step: +1 }\n', line: 4, path: 'webhook.secret_env', message: /name of an environment variable/ },
  { title: 'remember under 1m', yaml: 'webhook: { remember: 10s }\nrules:\n  - { name: b, strategy: signal, step: +1 }\n', line: 3, path: 'webhook.remember', message: /from 1m to 7d/ },
  { title: 'an unknown webhook key', yaml: 'webhook: { secret: abc }\nrules:\n  - { name: b, strategy: signal, step: +1 }\n', line: 3, path: 'webhook.secret', message: /unknown key/ },
];

for (const c of bad) {
  test(`refused with file, line and field: ${c.title}`, (t) => {
    const r = parse(c.yaml);
    if (r.ok) return t.fail('accepted');
    t.is(r.issues.length, 1, JSON.stringify(r.issues));
    const i = r.issues[0]!;
    t.is(i.file, 'web.yaml');
    t.is(i.line, c.line);
    t.is(i.path, c.path);
    t.regex(i.message, c.message);
  });
}
