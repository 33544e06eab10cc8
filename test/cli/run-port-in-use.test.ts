// `gridhost run` whose API address is taken: a clear error naming the address and the setting
// it came from, exit 1, and nothing repaired or started before it gave up (the API is bound
// before reconcile, so a half-made guest in the store is left exactly as it was).
import test from 'ava';
import { createServer, type Server } from 'node:net';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite-driver.ts';
import { guest } from '../store/store-contract.ts';
import { freePort, runCli, workspace } from '../e2e/harness.ts';

const POLICY = readFileSync(new URL('../../policies/web.yaml', import.meta.url), 'utf8');

test('an API port already in use is GH_LISTEN_FAILED naming the address and the setting, exit 1, and the store is not touched', async (t) => {
  const front = await freePort();
  const dir = workspace({ policies: { 'web.yaml': POLICY.replace('127.0.0.1:8080', `127.0.0.1:${front}`) } });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'data', 'gridhost.db');
  const seed = openSqliteStore(dbPath);
  await seed.saveGuest(guest('web-half', { state: 'booting', updatedAt: 1_700_000_000_000 }));
  await seed.close();

  const taken: Server = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => taken.close(() => r())));
  const port = (taken.address() as { port: number }).port;
  const env = {
    GRIDHOST_API_LISTEN: `127.0.0.1:${port}`,
    GRIDHOST_POLICIES_DIR: join(dir, 'policies'),
    GRIDHOST_TEMPLATES_DIR: join(dir, 'templates'),
    GRIDHOST_DATA_DIR: join(dir, 'data'),
    GRIDHOST_LOG_FORMAT: 'json',
  };
  const r = await runCli(['run'], { cwd: dir, env });
  t.is(r.code, 1, r.stderr);
  t.is(
    r.stderr.trim(),
    `gridhost: GH_LISTEN_FAILED: cannot listen on 127.0.0.1:${port} (GRIDHOST_API_LISTEN, which overrides api.listen): the address is already in use (is another gridhost or another service running there?)`,
  );
  t.false(r.stdout.includes('"msg":"reconciled"'), 'it reconciled before giving up');
  const after = openSqliteStore(dbPath);
  t.teardown(() => after.close());
  t.like(await after.getGuest('web-half'), { state: 'booting', updatedAt: 1_700_000_000_000 });
  t.deepEqual((await after.listGuests()).map((g) => g.id), ['web-half'], 'no guest was launched');

  // Named by the config file when the address comes from there.
  const config = join(dir, 'gh.yaml');
  writeFileSync(config, `api:\n  listen: 127.0.0.1:${port}\n`);
  const viaFile = await runCli(['run'], { cwd: dir, env: { ...env, GRIDHOST_API_LISTEN: '', GRIDHOST_CONFIG: config } });
  t.is(viaFile.code, 1, viaFile.stderr);
  t.regex(viaFile.stderr, new RegExp(`^gridhost: GH_LISTEN_FAILED: cannot listen on 127\\.0\\.0\\.1:${port} \\(api\\.listen in ${config.replace(/[.]/g, '\\.')}\\): the address is already in use`));
  t.like(await after.getGuest('web-half'), { state: 'booting', updatedAt: 1_700_000_000_000 });
});
