// One test per kind of bad input, each pinned to the exact FILE:LINE:COL and dotted path
// the user will see. Fixtures live in ./fixtures; folders needing real files are temp dirs.

import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatIssue, PolicyError, type ValidationIssue } from '../../src/errors/errors.ts';
import { checkPolicyFile, loadPolicyDir, loadPolicyFile, type PolicyLoadOptions } from '../../src/policy/load-policy.ts';

const FIX = path.join(import.meta.dirname, 'fixtures');
const OPTS: PolicyLoadOptions = { templatesDir: '/srv/gridhost/templates', exists: () => true };

function issuesOf(name: string, opts: PolicyLoadOptions = OPTS): ValidationIssue[] {
  const r = checkPolicyFile(path.join(FIX, name), opts);
  return r.ok ? [] : r.issues;
}

function where(i: ValidationIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path}`;
}

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-policy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const single: { title: string; fixture: string; at: string; message: RegExp; found?: unknown }[] = [
  { title: 'malformed YAML is reported where the parser gave up, with no field path', fixture: 'malformed.yaml', at: '3:1: ', message: /^YAML syntax error: Flow sequence/ },
  { title: 'a value of the wrong type is reported at the value', fixture: 'wrong-type.yaml', at: '2:6: min', message: /must be an integer, found a string/, found: 'two' },
  { title: 'an unknown key is reported at the key itself', fixture: 'unknown-key.yaml', at: '5:3: guest.helth_path', message: /unknown key; did you mean health_path\?/, found: 'helth_path' },
  { title: 'min > max is reported at min', fixture: 'min-over-max.yaml', at: '2:6: min', message: /must be <= max \(4\)/, found: 6 },
  { title: 'max above the hard cap is reported at max', fixture: 'max-over-cap.yaml', at: '2:6: max', message: /must be <= 8 \(limits.hard_max\)/, found: 12 },
  { title: 'a zero sampling interval is rejected', fixture: 'zero-interval.yaml', at: '6:13: sampling.interval', message: /must be longer than 0/, found: '0s' },
  { title: 'a negative sampling interval is rejected', fixture: 'negative-interval.yaml', at: '7:13: sampling.interval', message: /cannot be negative/, found: '-5s' },
  { title: 'an unparseable duration is rejected', fixture: 'bad-duration.yaml', at: '6:13: scale_in.cooldown', message: /cannot read "soon" as a duration/, found: 'soon' },
  { title: 'a bad cron expression is rejected', fixture: 'bad-cron.yaml', at: '9:11: schedules.0.cron', message: /not a valid cron expression.*25 is a invalid expression for hour/, found: '0 25 * * *' },
  { title: 'an unknown time zone is rejected', fixture: 'bad-timezone.yaml', at: '10:15: schedules.0.timezone', message: /not a known IANA time zone/, found: 'Europe/Atlantis' },
  { title: 'pool name "../x" is rejected because it becomes a path', fixture: 'pool-dotdot.yaml', at: '1:7: pool', message: /part of file paths/, found: '../x' },
  { title: 'pool name "a;rm" is rejected because it reaches commands', fixture: 'pool-shell.yaml', at: '1:7: pool', message: /command arguments and guest names/, found: 'a;rm' },
];

for (const c of single) {
  test(c.title, (t) => {
    const issues = issuesOf(c.fixture);
    t.is(issues.length, 1, issues.map(formatIssue).join('\n'));
    const i = issues[0]!;
    t.is(where(i), `${path.join(FIX, c.fixture)}:${c.at}`);
    t.regex(i.message, c.message);
    t.is(i.found, c.found);
  });
}

test('all issues of a file are reported at once (3 problems -> 3 lines)', (t) => {
  const file = path.join(FIX, 'three-problems.yaml');
  const e = t.throws(() => loadPolicyFile(file, OPTS), { instanceOf: PolicyError });
  t.is(e?.code, 'GH_POLICY_INVALID');
  const lines = e!.message.split('\n');
  t.is(lines.length, 3);
  t.true(lines[0]!.startsWith(`${file}:3:6: max: must be <= 8`));
  t.true(lines[1]!.startsWith(`${file}:7:17: guest.boot_timeout: a duration needs a unit`));
  t.true(lines[2]!.startsWith(`${file}:13:11: rules.0.step: an above rule scales out`));
  t.deepEqual(e!.issues.map(formatIssue), lines);
});

function templatesWith(t: Parameters<typeof tempDir>[0], opts: { template: boolean; image: boolean }): string {
  const dir = tempDir(t);
  if (opts.template) fs.writeFileSync(path.join(dir, 'web.local.yaml'), 'command: node\n');
  if (opts.image) fs.mkdirSync(path.join(dir, 'images', 'web'), { recursive: true });
  return dir;
}

test('a missing template file is reported at guest.template (real file system)', (t) => {
  const templatesDir = templatesWith(t, { template: false, image: true });
  const issues = issuesOf('dup/a-web.yaml', { templatesDir });
  t.is(issues.length, 1);
  t.is(where(issues[0]!), `${path.join(FIX, 'dup/a-web.yaml')}:3:13: guest.template`);
  t.is(issues[0]!.message, `template file not found: ${path.join(templatesDir, 'web.local.yaml')}`);
});

test('a missing base image is reported at guest.image (real file system)', (t) => {
  const templatesDir = templatesWith(t, { template: true, image: false });
  const issues = issuesOf('dup/a-web.yaml', { templatesDir });
  t.is(issues.length, 1);
  t.is(where(issues[0]!), `${path.join(FIX, 'dup/a-web.yaml')}:4:10: guest.image`);
  t.is(issues[0]!.message, `base image not found: ${path.join(templatesDir, 'images/web')}`);
});

test('existing template and image pass the real existence check', (t) => {
  const templatesDir = templatesWith(t, { template: true, image: true });
  const p = loadPolicyFile(path.join(FIX, 'dup/a-web.yaml'), { templatesDir });
  t.is(p.guest.template, path.join(templatesDir, 'web.local.yaml'));
  t.is(p.guest.image, path.join(templatesDir, 'images/web'));
});

test('checkFiles: false skips the existence check (the simulator has no templates)', (t) => {
  const templatesDir = templatesWith(t, { template: false, image: false });
  const p = loadPolicyFile(path.join(FIX, 'dup/a-web.yaml'), { templatesDir, checkFiles: false });
  t.is(p.guest.image, path.join(templatesDir, 'images/web'));
});

test('two files with the same pool: the first by name wins, the later one is reported at its pool line', (t) => {
  const dir = path.join(FIX, 'dup');
  const r = loadPolicyDir(dir, OPTS);
  t.deepEqual(
    r.policies.map((p) => [path.basename(p.file), p.pool]),
    [
      ['a-web.yaml', 'web'],
      ['c-api.yaml', 'api'],
    ],
  );
  t.is(r.failures.length, 1);
  const f = r.failures[0]!;
  t.is(f.file, path.join(dir, 'b-web.yaml'));
  t.is(f.issues.length, 1);
  t.is(where(f.issues[0]!), `${path.join(dir, 'b-web.yaml')}:2:7: pool`);
  t.regex(f.issues[0]!.message, new RegExp(`already defined by ${path.join(dir, 'a-web.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
});

test('an empty folder is a failure for the folder itself, not an exception', (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'README.md'), 'not a policy\n');
  const r = loadPolicyDir(dir, OPTS);
  t.deepEqual(r.policies, []);
  t.is(r.failures.length, 1);
  t.is(r.failures[0]!.file, dir);
  t.deepEqual(r.failures[0]!.issues.map(formatIssue), [`${dir}:1:1: no policy files found (*.yaml or *.yml)`]);
});

test('a missing folder is a failure for the folder, not an exception', (t) => {
  const dir = path.join(tempDir(t), 'nope');
  const r = loadPolicyDir(dir, OPTS);
  t.deepEqual(r.policies, []);
  t.deepEqual(r.failures[0]!.issues.map(formatIssue), [`${dir}:1:1: cannot read policy folder (ENOENT)`]);
});
