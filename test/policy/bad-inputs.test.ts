// One test per kind of bad input, each pinned to the exact FILE:LINE:COL and dotted path
// the user will see. Fixtures live in ./fixtures; folders needing real files are temp dirs.

import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatIssue, PolicyError, type ValidationIssue } from '../../src/errors/errors.ts';
import { checkPolicyFile, loadPolicyDir, loadPolicyFile, POLICY_MAX_BYTES, type PolicyLoadOptions } from '../../src/policy/load-policy.ts';

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

// Files that must not be parsed or quoted: links out of the folder, oversize files, binaries.

const VALID = 'pool: web\nguest:\n  template: web.local.yaml\n  image: images/web\nrules:\n  - {strategy: threshold, metric: cpu, above: 70, step: +1}\n';

test('a policy symlinked to a file outside the policies folder is refused, naming the target, contents unread', (t) => {
  const root = tempDir(t);
  const dir = path.join(root, 'policies');
  fs.mkdirSync(dir);
  const secret = path.join(root, 'passwd');
  fs.writeFileSync(secret, 'root:x:0:0:root:/root:/bin/bash\n');
  fs.symlinkSync(secret, path.join(dir, 'web.yaml'));
  const r = loadPolicyDir(dir, OPTS);
  t.deepEqual(r.policies, []);
  t.deepEqual(r.failures.map((f) => f.issues.map(formatIssue)), [
    [`${path.join(dir, 'web.yaml')}:1:1: is a symlink to ${secret}, outside the policies folder ${dir}; refused: a policy file must be in the policies folder (a link may point only to a file inside it)`],
  ]);
});

test('a symlink to a file inside the policies folder is read like the file', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'versions'));
  fs.writeFileSync(path.join(dir, 'versions', 'web-v2.txt'), VALID);
  fs.symlinkSync('versions/web-v2.txt', path.join(dir, 'web.yaml'));
  const r = loadPolicyDir(dir, OPTS);
  t.deepEqual(r.failures, []);
  t.deepEqual(r.policies.map((p) => p.pool), ['web']);
});

test('a policy file over the size limit is refused with its size and the limit', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'web.yaml');
  fs.writeFileSync(file, VALID + `# ${'x'.repeat(POLICY_MAX_BYTES)}\n`);
  const size = fs.statSync(file).size;
  t.deepEqual(checkPolicyFile(file, OPTS), { ok: false, issues: [{ file, line: 1, col: 1, path: '', message: `policy file is ${size} bytes; the limit is 65536 bytes (64 KiB)` }] });
  fs.writeFileSync(file, VALID + `# ${'x'.repeat(POLICY_MAX_BYTES - VALID.length - 3)}\n`);
  t.true(checkPolicyFile(file, OPTS).ok, 'a file of exactly the limit is read');
});

test('a found value is cut to a short prefix: a text file or a binary never lands whole in an issue', (t) => {
  const dir = tempDir(t);
  const passwd = Array.from({ length: 40 }, (_, i) => `user${i}:x:${1000 + i}:${1000 + i}::/home/user${i}:/bin/sh`).join('\n');
  const binary = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 256).filter((b) => b !== 0x0a && b !== 0x23)).toString('latin1');
  for (const [name, text] of [['passwd.yaml', passwd], ['bin.yaml', `pool: ${binary}\n`], ['rule.yaml', VALID.replace('metric: cpu', `metric: ${'m'.repeat(5000)}`)]] as const) {
    fs.writeFileSync(path.join(dir, name), text);
    const r = checkPolicyFile(path.join(dir, name), OPTS);
    t.false(r.ok, name);
    for (const line of (r.ok ? [] : r.issues).map(formatIssue)) t.true(line.length < 400, `${name}: ${line.length} characters: ${line.slice(0, 200)}`);
  }
  const [issue] = issuesOfText(t, passwd);
  // YAML folds the lines into one plain scalar of 1,6xx characters: 40 of them are kept.
  t.regex(String(issue?.found), /^user0:x:1000:1000::\/home\/user0:\/bin\/sh u\.\.\. \(16\d\d characters\)$/);
});

function issuesOfText(t: { teardown: (fn: () => void) => void }, text: string): ValidationIssue[] {
  const file = path.join(tempDir(t), 'x.yaml');
  fs.writeFileSync(file, text);
  const r = checkPolicyFile(file, OPTS);
  return r.ok ? [] : r.issues;
}

test('an entry named like a policy that is a directory is a failure of its own', (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'web.yaml'), VALID);
  fs.mkdirSync(path.join(dir, 'api.yaml'));
  const r = loadPolicyDir(dir, OPTS);
  t.deepEqual(r.policies.map((p) => p.pool), ['web']);
  t.deepEqual(r.failures.map((f) => f.issues.map(formatIssue)), [[`${path.join(dir, 'api.yaml')}:1:1: is a directory, not a policy file`]]);
});
