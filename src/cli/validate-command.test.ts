import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GridhostConfig } from '../config/config-types.ts';
import { PolicyError } from '../errors/errors.ts';
import { UsageError } from './command-io.ts';
import { runValidate } from './validate-command.ts';

const GOOD = (pool: string) =>
  `pool: ${pool}\nguest:\n  template: web.local.yaml\n  image: images/web\nrules:\n  - {strategy: threshold, metric: cpu, above: 70, step: +1}\n`;

/** A temp tree with templates/ (template + image) and policies/, and a config pointing at it. */
function setup(t: { teardown: (fn: () => void) => void }, policies: Record<string, string>, hardMax = 8) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-validate-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const templatesDir = path.join(root, 'templates');
  const policiesDir = path.join(root, 'policies');
  fs.mkdirSync(path.join(templatesDir, 'images/web'), { recursive: true });
  fs.writeFileSync(path.join(templatesDir, 'web.local.yaml'), 'command: node\n');
  fs.mkdirSync(policiesDir);
  for (const [name, text] of Object.entries(policies)) fs.writeFileSync(path.join(policiesDir, name), text);
  const config: GridhostConfig = {
    source: '<defaults>',
    api: { listen: '127.0.0.1:8700' },
    policiesDir,
    templatesDir,
    guestsDir: path.join(root, 'data/guests'),
    store: { kind: 'sqlite', path: path.join(root, 'data/gridhost.db') },
    limits: { hardMax, sampleRetentionMs: 1, historyRetentionMs: 1 },
    cluster: { leaseMs: 15_000, reconcileIntervalMs: 300_000 },
    log: { level: 'info', format: 'auto' },
    drivers: {},
  };
  const out: string[] = [];
  const err: string[] = [];
  return { root, policiesDir, templatesDir, config, out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
}

test('with no arguments the configured policies folder is checked; all good -> ok lines, exit 0', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web'), 'shop.yaml': GOOD('shop') });
  t.is(await runValidate([], s.io, () => s.config), 0);
  t.deepEqual(s.out, [`ok ${path.join(s.policiesDir, 'shop.yaml')} (pool shop)`, `ok ${path.join(s.policiesDir, 'web.yaml')} (pool web)`]);
  t.deepEqual(s.err, []);
});

test('each issue is printed as FILE:LINE:COL: path: message to err, and the exit code is 1', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web'), 'bad.yaml': GOOD('bad').replace('step: +1', 'step: -1').replace('pool: bad', 'pool: bad\nmax: 9') });
  t.is(await runValidate([], s.io, () => s.config), 1);
  t.deepEqual(s.out, [`ok ${path.join(s.policiesDir, 'web.yaml')} (pool web)`]);
  const bad = path.join(s.policiesDir, 'bad.yaml');
  t.deepEqual(s.err, [
    `${bad}:2:6: max: must be <= 8 (limits.hard_max) (found 9)`,
    `${bad}:7:57: rules.0.step: an above rule scales out: its step must be positive (e.g. +1) (found "-1")`,
  ]);
});

test('the hard cap comes from the config', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web').replace('pool: web', 'pool: web\nmax: 4') }, 3);
  t.is(await runValidate([], s.io, () => s.config), 1);
  t.regex(s.err[0]!, /:2:6: max: must be <= 3/);
});

test('template and image existence is checked against the configured templates folder', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web') });
  fs.rmSync(path.join(s.templatesDir, 'images'), { recursive: true });
  t.is(await runValidate([], s.io, () => s.config), 1);
  t.deepEqual(s.err, [`${path.join(s.policiesDir, 'web.yaml')}:4:10: guest.image: base image not found: ${path.join(s.templatesDir, 'images/web')} (found "images/web")`]);
});

test('files and folders named as arguments are checked, in order; a missing one is an issue', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web') });
  const other = path.join(s.root, 'more');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'shop.yml'), GOOD('shop'));
  const missing = path.join(s.root, 'nope.yaml');
  t.is(await runValidate([path.join(s.policiesDir, 'web.yaml'), other, missing], s.io, () => s.config), 1);
  t.deepEqual(s.out, [`ok ${path.join(s.policiesDir, 'web.yaml')} (pool web)`, `ok ${path.join(other, 'shop.yml')} (pool shop)`]);
  t.deepEqual(s.err, [`${missing}:1:1: cannot read policy file or folder (ENOENT)`]);
});

test('an empty policies folder fails validation', async (t) => {
  const s = setup(t, {});
  t.is(await runValidate([], s.io, () => s.config), 1);
  t.deepEqual(s.err, [`${s.policiesDir}:1:1: no policy files found (*.yaml or *.yml)`]);
  t.deepEqual(s.out, []);
});

test('two files for one pool in a folder: the later one fails at its pool line', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web'), 'web.yml': `# second\n${GOOD('web')}` });
  t.is(await runValidate([], s.io, () => s.config), 1);
  t.deepEqual(s.out, [`ok ${path.join(s.policiesDir, 'web.yaml')} (pool web)`]);
  t.is(s.err.length, 1);
  t.true(s.err[0]!.startsWith(`${path.join(s.policiesDir, 'web.yml')}:2:7: pool: pool "web" is already defined by ${path.join(s.policiesDir, 'web.yaml')}`));
});

test('a policy file named unlike its pool is ok with a warning at its pool line; --strict fails it', async (t) => {
  const s = setup(t, { 'mismatch.yaml': GOOD('other') });
  const file = path.join(s.policiesDir, 'mismatch.yaml');
  t.is(await runValidate([], s.io, () => s.config), 0);
  t.deepEqual(s.out, [`ok ${file} (pool other)`]);
  t.deepEqual(s.err, [`${file}:1:7: pool: warning: the file is named mismatch.yaml but defines pool other; name it other.yaml so the pool's policy is found by its name (found "other")`]);
  s.out.length = 0;
  s.err.length = 0;
  t.is(await runValidate(['--strict', file], s.io, () => s.config), 1);
  t.is(s.err.length, 1);
});

test('a rule on a metric no source provides fails, naming the metrics that exist', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web').replace('metric: cpu', 'metric: latency_p99') });
  t.is(await runValidate([], s.io, () => s.config), 1);
  t.deepEqual(s.err, [
    `${path.join(s.policiesDir, 'web.yaml')}:6:35: rules.0.metric: no source provides metric latency_p99 for this pool (it would never have a value); ` +
      'metrics that exist: cpu (hypervisor); rps, inflight, requests_total, cpu_seconds (guest); rps, inflight, queue_ms, latency_p95_ms, http_5xx_ratio (source: balancer). A metric the guest reports on its metrics endpoint must be listed in guest.metrics (found "latency_p99")',
  ]);
});

test('a file of config keys given as a path is checked as a config, with FILE:LINE:COL issues', async (t) => {
  const s = setup(t, {});
  const cfg = path.join(s.root, 'staging.yaml');
  fs.writeFileSync(cfg, 'api:\n  listen: nowhere\nlimits:\n  hard_max: 0\n');
  const good = path.join(s.root, 'gridhost.yml');
  fs.writeFileSync(good, 'log:\n  level: debug\n');
  t.is(await runValidate([cfg, good], s.io, () => s.config), 1);
  t.deepEqual(s.err, [`${cfg}:2:11: api.listen: must be host:port, e.g. 127.0.0.1:8080 (found "nowhere")`, `${cfg}:4:13: limits.hard_max: must be >= 1 (found 0)`]);
  t.deepEqual(s.out, [`ok ${good} (config)`]);
});

test('with no paths the config in use is reported with the policies of its folder', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web') });
  const config = { ...s.config, source: path.join(s.root, 'gridhost.yaml') };
  t.is(await runValidate([], s.io, () => config), 0);
  t.deepEqual(s.out, [`ok ${config.source} (config)`, `ok ${path.join(s.policiesDir, 'web.yaml')} (pool web)`]);
});

test('--config names the config to load; its issues stop the policy checks', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web') });
  const asked: (string | undefined)[] = [];
  const issue = { file: '/x/g.yaml', line: 3, col: 5, path: 'log.level', message: 'must be one of error | warn | info | debug', found: 'loud' };
  const code = await runValidate(['--config', '/x/g.yaml'], s.io, (file) => {
    asked.push(file);
    throw new PolicyError([issue], 'GH_CONFIG_INVALID');
  });
  t.is(code, 1);
  t.deepEqual(asked, ['/x/g.yaml']);
  t.deepEqual(s.err, ['/x/g.yaml:3:5: log.level: must be one of error | warn | info | debug (found "loud")', 'gridhost validate: the configuration is invalid; policies are checked once it is valid']);
  t.deepEqual(s.out, []);
});

test('a file with thousands of issues prints the first 100 and how many more; --all prints every one', async (t) => {
  const keys = Array.from({ length: 250 }, (_, i) => `k${i}: 1`).join('\n');
  const s = setup(t, { 'web.yaml': `${GOOD('web')}${keys}\n` });
  const file = path.join(s.policiesDir, 'web.yaml');
  t.is(await runValidate([], s.io, () => s.config), 1);
  t.is(s.err.length, 101);
  t.is(s.err[100], `${file}: 150 more issues not shown (--all shows every one)`);
  s.err.length = 0;
  t.is(await runValidate(['--all'], s.io, () => s.config), 1);
  t.is(s.err.length, 250);
});

test('unknown options are usage errors; -- ends the options', async (t) => {
  const s = setup(t, {});
  await t.throwsAsync(() => runValidate(['--bogus'], s.io, () => s.config), { instanceOf: UsageError, message: /unknown option "--bogus"/ });
  fs.writeFileSync(path.join(s.root, '--odd.yaml'), GOOD('odd'));
  const code = await runValidate(['--', path.join(s.root, '--odd.yaml')], s.io, () => s.config);
  t.is(code, 0, s.err.join('\n'));
});
