// Every command answers --help with its usage and --version with the version, exit 0, before
// it reads anything (a broken gridhost.yaml does not matter; run --help starts nothing).
// In-process through main(); test/cli/cli-help.test.ts runs the real bin for a few of them.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, VERSION } from './main.ts';

const PKG = (JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

function tempCwd(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A broken config must not matter: help and version read no config.
  fs.writeFileSync(path.join(dir, 'gridhost.yaml'), 'api: [\n');
  return dir;
}

async function cli(t: { teardown: (fn: () => void) => void }, args: string[]) {
  const cwd = tempCwd(t);
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) }, { env: {}, cwd });
  return { code, out: out.join('\n'), err: err.join('\n'), files: fs.readdirSync(cwd) };
}

test('the version is package.json\'s', (t) => {
  t.is(VERSION, PKG);
});

const helps: { args: string[]; usage: RegExp }[] = [
  { args: ['--help'], usage: /^usage: gridhost <command>/ },
  { args: ['help'], usage: /^usage: gridhost <command>/ },
  { args: ['-h'], usage: /^usage: gridhost <command>/ },
  { args: ['run', '--help'], usage: /^usage: gridhost run \[--config FILE\]/ },
  { args: ['run', '--config', 'x.yaml', '-h'], usage: /^usage: gridhost run / },
  { args: ['validate', '--help'], usage: /^usage: gridhost validate / },
  { args: ['validate', 'policies', '-h'], usage: /^usage: gridhost validate / },
  { args: ['simulate', '--help'], usage: /^usage: gridhost simulate --policy FILE/ },
  { args: ['simulate', '--policy', 'x.yaml', '--help'], usage: /^usage: gridhost simulate / },
  { args: ['help', 'simulate'], usage: /^usage: gridhost simulate / },
  { args: ['help', 'validate'], usage: /^usage: gridhost validate / },
];

for (const c of helps) {
  test(`gridhost ${c.args.join(' ')} prints the usage and exits 0, touching nothing`, async (t) => {
    const r = await cli(t, c.args);
    t.is(r.code, 0, r.err);
    t.regex(r.out, c.usage);
    t.is(r.err, '');
    t.deepEqual(r.files, ['gridhost.yaml']);
  });
}

for (const args of [['--version'], ['version'], ['-V'], ['validate', '--version'], ['run', '--version'], ['simulate', '--version']]) {
  test(`gridhost ${args.join(' ')} prints the version and exits 0`, async (t) => {
    const r = await cli(t, args);
    t.is(r.code, 0, r.err);
    t.is(r.out, `gridhost ${PKG}`);
  });
}

test('after --, --help is an operand, not a request for help', async (t) => {
  const r = await cli(t, ['validate', '--', '--help']);
  // gridhost.yaml in the cwd is broken: validate got as far as loading it.
  t.is(r.code, 1);
  t.regex(r.err, /gridhost\.yaml:2:1: YAML syntax error/);
});

const usageErrors: { args: string[]; err: RegExp }[] = [
  { args: ['deploy'], err: /^gridhost: unknown command "deploy"\n\nusage: gridhost <command>/ },
  { args: ['--bogus'], err: /^gridhost: unknown command "--bogus"/ },
  { args: ['help', 'deploy'], err: /^gridhost: no command "deploy"/ },
  { args: ['run', '--port', '1'], err: /^gridhost run: unknown option "--port"\n\nusage: gridhost run / },
  { args: ['run', 'now'], err: /^gridhost run: unknown argument "now"/ },
  { args: ['run', '--config'], err: /^gridhost run: --config needs a file/ },
  { args: ['validate', '--bogus'], err: /^gridhost validate: unknown option "--bogus"/ },
  { args: ['simulate', '--bogus'], err: /^gridhost simulate: unknown option "--bogus"/ },
];

for (const c of usageErrors) {
  test(`gridhost ${c.args.join(' ')} is a usage error: exit 2 with the usage`, async (t) => {
    const r = await cli(t, c.args);
    t.is(r.code, 2);
    t.regex(r.err, c.err);
    t.deepEqual(r.files, ['gridhost.yaml']);
  });
}
