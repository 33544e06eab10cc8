// `gridhost run` with a write token anyone could guess refuses to start (exit 1, the reason and
// where the token came from, never the token itself), before it binds, repairs or launches.
import test from 'ava';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runCli, workspace } from '../e2e/harness.ts';

const POLICY = readFileSync(new URL('../../policies/web.yaml', import.meta.url), 'utf8');

async function setup(t: { teardown(fn: () => void): void }) {
  const front = await freePort();
  const dir = workspace({ policies: { 'web.yaml': POLICY.replace('127.0.0.1:8080', `127.0.0.1:${front}`) } });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    GRIDHOST_API_LISTEN: `127.0.0.1:${await freePort()}`,
    GRIDHOST_POLICIES_DIR: join(dir, 'policies'),
    GRIDHOST_TEMPLATES_DIR: join(dir, 'templates'),
    GRIDHOST_DATA_DIR: join(dir, 'data'),
    GRIDHOST_LOG_FORMAT: 'json',
  };
  return { dir, env };
}

const cases: [string, RegExp][] = [
  ['changeme', /GRIDHOST_API_TOKEN is a well-known value/],
  ['   ', /GRIDHOST_API_TOKEN is empty/],
  ['short-tok', /GRIDHOST_API_TOKEN is shorter than 12 characters/],
  ['zzzzzzzzzzzzzzzzzz', /GRIDHOST_API_TOKEN has fewer than 4 distinct characters/],
];
for (const [token, why] of cases) {
  test(`run refuses to start with the write token ${JSON.stringify(token)} from the environment`, async (t) => {
    const { dir, env } = await setup(t);
    const r = await runCli(['run'], { cwd: dir, env: { ...env, GRIDHOST_API_TOKEN: token } });
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /GH_CONFIG_INVALID/);
    t.regex(r.stderr, why);
    if (token.trim()) t.false(`${r.stdout}${r.stderr}`.includes(token), 'the token is never printed');
    t.false(r.stdout.includes('"msg":"reconciled"'), 'it did not start');
  });
}

test('run refuses a well-known api.token from gridhost.yaml, naming the file', async (t) => {
  const { dir, env } = await setup(t);
  const config = join(dir, 'gh.yaml');
  writeFileSync(config, 'api:\n  token: secret\n');
  const r = await runCli(['run'], { cwd: dir, env: { ...env, GRIDHOST_CONFIG: config } });
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`api\\.token in ${config.replace(/[.]/g, '\\.')} is a well-known value`));
});
