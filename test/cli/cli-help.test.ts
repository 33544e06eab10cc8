// The CLI as a user runs it (bin/gridhost.js): `--version`, `run --help` starts no server, and
// `gridhost validate` in a checkout checks gridhost.yaml as the config file it is.
// (Every command's --help and --version: src/cli/main.test.ts, in-process.)
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, runCli } from '../e2e/harness.ts';

const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

function tempCwd(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('gridhost --version prints the version; gridhost run --help prints its usage and starts nothing', async (t) => {
  const cwd = tempCwd(t);
  const [version, help] = await Promise.all([runCli(['--version'], { cwd, env: { GRIDHOST_CONFIG: '' } }), runCli(['run', '--help'], { cwd, env: { GRIDHOST_CONFIG: '' } })]);
  t.is(version.code, 0, version.stderr);
  t.is(version.stdout, `gridhost ${VERSION}\n`);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /^usage: gridhost run \[--config FILE\]/);
  // A server would have opened its SQLite store under ./data.
  t.deepEqual(fs.readdirSync(cwd), []);
});

test('gridhost validate in a checkout checks gridhost.yaml as the config and the policies it names', async (t) => {
  const cwd = tempCwd(t);
  fs.copyFileSync(path.join(REPO, 'gridhost.yaml'), path.join(cwd, 'gridhost.yaml'));
  fs.cpSync(path.join(REPO, 'policies'), path.join(cwd, 'policies'), { recursive: true });
  fs.cpSync(path.join(REPO, 'templates'), path.join(cwd, 'templates'), { recursive: true });
  const env = { GRIDHOST_CONFIG: '', GRIDHOST_POLICIES_DIR: '', GRIDHOST_TEMPLATES_DIR: '' };
  const all = await runCli(['validate'], { cwd, env });
  t.is(all.code, 0, all.stderr);
  t.is(all.stdout, `ok ${path.join(cwd, 'gridhost.yaml')} (config)\nok ${path.join(cwd, 'policies', 'web.yaml')} (pool web)\n`);
  // What gridhost.yaml's header suggests: naming the file checks it as a config, not a policy.
  const named = await runCli(['validate', 'gridhost.yaml'], { cwd, env });
  t.is(named.code, 0, named.stderr);
  t.is(named.stdout, `ok ${path.join(cwd, 'gridhost.yaml')} (config)\n`);
  fs.writeFileSync(path.join(cwd, 'gridhost.yaml'), fs.readFileSync(path.join(cwd, 'gridhost.yaml'), 'utf8').replace('hard_max: 8 ', 'hard_max: -1'));
  const bad = await runCli(['validate', '--config', 'gridhost.yaml'], { cwd, env });
  t.is(bad.code, 1);
  const line = fs.readFileSync(path.join(cwd, 'gridhost.yaml'), 'utf8').split('\n').findIndex((l) => l.includes('hard_max: -1')) + 1;
  t.is(bad.stderr.split('\n')[0], `${path.join(cwd, 'gridhost.yaml')}:${line}:13: limits.hard_max: must be >= 1 (found -1)`);
});
