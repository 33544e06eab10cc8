import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GridhostConfig } from '../config/config-types.ts';
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
    log: { level: 'info', format: 'auto' },
    dom0s: [],
  };
  const out: string[] = [];
  const err: string[] = [];
  return { root, policiesDir, templatesDir, config, out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
}

test('with no arguments the configured policies folder is checked; all good -> ok lines, exit 0', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web'), 'shop.yaml': GOOD('shop') });
  t.is(await runValidate([], s.io, s.config), 0);
  t.deepEqual(s.out, [`ok ${path.join(s.policiesDir, 'shop.yaml')} (pool shop)`, `ok ${path.join(s.policiesDir, 'web.yaml')} (pool web)`]);
  t.deepEqual(s.err, []);
});

test('each issue is printed as FILE:LINE:COL: path: message to err, and the exit code is 1', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web'), 'bad.yaml': GOOD('bad').replace('step: +1', 'step: -1').replace('pool: bad', 'pool: bad\nmax: 9') });
  t.is(await runValidate([], s.io, s.config), 1);
  t.deepEqual(s.out, [`ok ${path.join(s.policiesDir, 'web.yaml')} (pool web)`]);
  const bad = path.join(s.policiesDir, 'bad.yaml');
  t.deepEqual(s.err, [
    `${bad}:2:6: max: must be <= 8 (limits.hard_max) (found 9)`,
    `${bad}:7:57: rules.0.step: an above rule scales out: its step must be positive (e.g. +1) (found "-1")`,
  ]);
});

test('the hard cap comes from the config', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web').replace('pool: web', 'pool: web\nmax: 4') }, 3);
  t.is(await runValidate([], s.io, s.config), 1);
  t.regex(s.err[0]!, /:2:6: max: must be <= 3/);
});

test('template and image existence is checked against the configured templates folder', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web') });
  fs.rmSync(path.join(s.templatesDir, 'images'), { recursive: true });
  t.is(await runValidate([], s.io, s.config), 1);
  t.deepEqual(s.err, [`${path.join(s.policiesDir, 'web.yaml')}:4:10: guest.image: base image not found: ${path.join(s.templatesDir, 'images/web')} (found "images/web")`]);
});

test('files and folders named as arguments are checked, in order; a missing one is an issue', async (t) => {
  const s = setup(t, { 'web.yaml': GOOD('web') });
  const other = path.join(s.root, 'more');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'shop.yml'), GOOD('shop'));
  const missing = path.join(s.root, 'nope.yaml');
  t.is(await runValidate([path.join(s.policiesDir, 'web.yaml'), other, missing], s.io, s.config), 1);
  t.deepEqual(s.out, [`ok ${path.join(s.policiesDir, 'web.yaml')} (pool web)`, `ok ${path.join(other, 'shop.yml')} (pool shop)`]);
  t.deepEqual(s.err, [`${missing}:1:1: cannot read policy file or folder (ENOENT)`]);
});

test('an empty policies folder fails validation', async (t) => {
  const s = setup(t, {});
  t.is(await runValidate([], s.io, s.config), 1);
  t.deepEqual(s.err, [`${s.policiesDir}:1:1: no policy files found (*.yaml or *.yml)`]);
  t.deepEqual(s.out, []);
});

test('two files for one pool in a folder: the later one fails at its pool line', async (t) => {
  const s = setup(t, { 'a.yaml': GOOD('web'), 'b.yaml': `# second\n${GOOD('web')}` });
  t.is(await runValidate([], s.io, s.config), 1);
  t.deepEqual(s.out, [`ok ${path.join(s.policiesDir, 'a.yaml')} (pool web)`]);
  t.is(s.err.length, 1);
  t.true(s.err[0]!.startsWith(`${path.join(s.policiesDir, 'b.yaml')}:2:7: pool: pool "web" is already defined by ${path.join(s.policiesDir, 'a.yaml')}`));
});
