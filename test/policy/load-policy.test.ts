import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type Policy } from '../../src/domain/policy.ts';
import { PolicyError } from '../../src/errors/errors.ts';
import { loadPolicyDir, loadPolicyFile } from '../../src/policy/load-policy.ts';
import { parsePolicy } from '../../src/policy/parse-policy.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const FIX = path.join(import.meta.dirname, 'fixtures');
const T = '/srv/gridhost/templates';

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-policy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the shipped example policies/web.yaml parses to the expected canonical policy', (t) => {
  const file = path.join(REPO, 'policies/web.yaml');
  const p = parsePolicy(fs.readFileSync(file, 'utf8'), file, { templatesDir: T, exists: () => true });
  const want: Policy = {
    file,
    pool: 'web',
    mode: 'act',
    min: 2,
    max: 8,
    guest: {
      driver: 'local',
      template: `${T}/web.local.yaml`,
      image: `${T}/images/web`,
      clone: 'auto',
      healthPath: '/healthz',
      metricsPath: '/metrics',
      metrics: ['rps', 'inflight', 'requests_total', 'cpu_seconds'],
      bootTimeoutMs: 30_000,
      stopTimeoutMs: 10_000,
      drainTimeoutMs: 30_000,
    },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:8080' },
    sampling: { intervalMs: 5_000, windowMs: 300_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 30_000, whileBooting: 'add' },
    scaleIn: { cooldownMs: 60_000, stabilizationMs: 120_000, victims: 'newest' },
    onMissing: 'hold',
    unknownGuests: 'retire',
    breaker: { failures: 3, openMs: 300_000 },
    autoHeal: { ...DEFAULT_AUTO_HEAL },
    rules: [
      { name: 'rps', strategy: 'target-tracking', metric: 'rps', source: 'guest', aggregate: 'mean', target: 45, tolerance: 0.1, for: 1 },
      { name: 'cpu', strategy: 'target-tracking', metric: 'cpu', source: 'hypervisor', aggregate: 'mean', target: 75, tolerance: 0.1, for: 2 },
      { name: 'inflight', strategy: 'target-tracking', metric: 'inflight', source: 'balancer', aggregate: 'mean', target: 3, tolerance: 0.1, for: 2 },
    ],
    signalRules: [],
    webhook: { rememberMs: 24 * 3600_000 },
    rollout: { mode: 'manual', maxSurge: 1, maxUnavailable: 0, pauseMs: 0 },
    schedules: [],
    hooks: {},
  };
  t.deepEqual(p, want);
});

test('the existence check is asked about the resolved absolute template and image paths', (t) => {
  const asked: string[] = [];
  const file = path.join(FIX, 'valid-minimal.yaml');
  parsePolicy(fs.readFileSync(file, 'utf8'), file, { templatesDir: T, exists: (p) => (asked.push(p), true) });
  t.deepEqual(asked.sort(), [`${T}/api.local.yaml`, `${T}/images/api`]);
});

test('defaults are applied to a file with only the required keys', (t) => {
  const file = path.join(FIX, 'valid-minimal.yaml');
  const p = loadPolicyFile(file, { templatesDir: T, checkFiles: false });
  t.deepEqual(
    { ...p, rules: undefined, guest: undefined },
    {
      file,
      pool: 'api',
      mode: 'act',
      min: 2,
      max: 8,
      guest: undefined,
      balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:8080' },
      sampling: { intervalMs: 5_000, windowMs: 300_000 },
      warmupMs: 10_000,
      scaleOut: { cooldownMs: 60_000, whileBooting: 'add' },
      scaleIn: { cooldownMs: 120_000, stabilizationMs: 300_000, victims: 'newest' },
      onMissing: 'hold',
      unknownGuests: 'retire',
      breaker: { failures: 3, openMs: 300_000 },
      autoHeal: { ...DEFAULT_AUTO_HEAL },
      rules: undefined,
      signalRules: [],
      webhook: { rememberMs: 24 * 3600_000 },
      rollout: { mode: 'manual', maxSurge: 1, maxUnavailable: 0, pauseMs: 0 },
      schedules: [],
      hooks: {},
    },
  );
  t.deepEqual(p.guest, {
    driver: 'local',
    template: `${T}/api.local.yaml`,
    image: `${T}/images/api`,
    clone: 'auto',
    healthPath: '/healthz',
    metricsPath: '/metrics',
    metrics: ['rps', 'inflight', 'requests_total', 'cpu_seconds'],
    bootTimeoutMs: 60_000,
    stopTimeoutMs: 10_000,
    drainTimeoutMs: 30_000,
  });
  t.deepEqual(p.rules, [{ name: 'rule-0', strategy: 'threshold', metric: 'cpu', source: 'hypervisor', aggregate: 'mean', above: 80, for: 1, step: { kind: 'count', value: 1 } }]);
});

test('the loaded policy is deeply frozen', (t) => {
  const file = path.join(REPO, 'policies/web.yaml');
  const p = parsePolicy(fs.readFileSync(file, 'utf8'), file, { templatesDir: T });
  for (const part of [p, p.guest, p.balancer, p.sampling, p.scaleIn, p.scaleOut, p.breaker, p.rules, p.rules[0], (p.rules[0] as { step: object }).step, p.schedules, p.schedules[0]]) {
    t.true(Object.isFrozen(part));
  }
  t.throws(() => {
    (p as { min: number }).min = 1;
  }, { instanceOf: TypeError });
  t.throws(() => {
    (p.rules as Policy['rules']).push(p.rules[0]!);
  }, { instanceOf: TypeError });
  t.is(p.min, 2);
});

test('parsePolicy throws PolicyError (GH_POLICY_INVALID) carrying the issues', (t) => {
  const e = t.throws(() => parsePolicy('pool: web\n', 'x.yaml', { templatesDir: T }), { instanceOf: PolicyError });
  t.is(e?.code, 'GH_POLICY_INVALID');
  t.deepEqual(
    e?.issues.map((i) => i.path),
    ['guest', 'rules'],
  );
});

test('an empty file is one issue at 1:1', (t) => {
  const e = t.throws(() => parsePolicy('# nothing here\n', 'empty.yaml', { templatesDir: T }), { instanceOf: PolicyError });
  t.is(e?.message, 'empty.yaml:1:1: file is empty; expected a mapping of settings');
});

test('a file whose top level is not a mapping is rejected', (t) => {
  const e = t.throws(() => parsePolicy('- pool: web\n', 'list.yaml', { templatesDir: T }), { instanceOf: PolicyError });
  t.is(e?.message, 'list.yaml:1:1: must be a mapping, found a list');
});

test('a duplicate key is an error at the second key, naming the line of the first', (t) => {
  const e = t.throws(() => parsePolicy('pool: web\nmin: 2\nmin: 3\n', 'dup.yaml', { templatesDir: T }), { instanceOf: PolicyError });
  t.is(e?.message, 'dup.yaml:3:1: min: duplicate key; it is already set at line 2');
});

test('duplicate keys are found at every depth, in lists too, each at its second occurrence', (t) => {
  const text = ['pool: web', 'guest:', '  template: a', '  template: b', 'rules:', '  - {strategy: threshold, metric: cpu, metric: rps}', 'pool: api', ''].join('\n');
  const e = t.throws(() => parsePolicy(text, 'dup.yaml', { templatesDir: T }), { instanceOf: PolicyError });
  t.deepEqual(e?.issues.map((i) => [i.line, i.path, i.message]), [
    [4, 'guest.template', 'duplicate key; it is already set at line 3'],
    [6, 'rules.0.metric', 'duplicate key; it is already set at line 6'],
    [7, 'pool', 'duplicate key; it is already set at line 1'],
  ]);
});

test('a bad file never stops the good ones in the same folder; .yml counts, dotfiles do not', (t) => {
  const dir = tempDir(t);
  const good = fs.readFileSync(path.join(FIX, 'dup/c-api.yaml'), 'utf8');
  fs.writeFileSync(path.join(dir, 'a-api.yml'), good);
  fs.writeFileSync(path.join(dir, 'b-broken.yaml'), 'pool: [\n');
  fs.writeFileSync(path.join(dir, 'c-web.yaml'), good.replace('pool: api', 'pool: web'));
  fs.writeFileSync(path.join(dir, '.#c-web.yaml'), 'garbage: [');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'pool: x');
  const r = loadPolicyDir(dir, { templatesDir: T, checkFiles: false });
  t.deepEqual(
    r.policies.map((p) => [path.basename(p.file), p.pool]),
    [
      ['a-api.yml', 'api'],
      ['c-web.yaml', 'web'],
    ],
  );
  t.deepEqual(
    r.failures.map((f) => path.basename(f.file)),
    ['b-broken.yaml'],
  );
});

test('the hard cap from the options applies to every file of a folder', (t) => {
  const r = loadPolicyDir(path.join(FIX, 'dup'), { templatesDir: T, checkFiles: false, hardMax: 4 });
  // Defaulted max follows the lower cap instead of failing.
  t.deepEqual(
    r.policies.map((p) => p.max),
    [4, 4],
  );
});
