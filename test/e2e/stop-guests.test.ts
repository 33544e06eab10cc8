// The README's "Stopping gridhost leaves the guests running" note, checked as written: Ctrl-C
// leaves the guests serving, and the README's commands (run by bash against a real gridhost,
// only the API address changed) take them all down, leaving no guest process or clone.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cloneDirs, freePort, getJson, gridhostsOf, guestRecords, processAlive, processesUnder, REPO, waitUntil } from './harness.ts';

const run = promisify(execFile);
const TOKEN = 'e2e-stop-guests-token-81c4';

/** The indented command lines of the README's "Stopping gridhost" item. */
function readmeStopCommands(): string[] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = readme.indexOf('- **Stopping gridhost leaves the guests running, by design.**');
  if (start < 0) return [];
  const end = readme.indexOf('\n- **', start + 1);
  return readme.slice(start, end).split('\n').filter((l) => /^ {6}\S/.test(l)).map((l) => l.trim());
}

test('the README says Ctrl-C leaves the guests running, and its commands to take them down work as written', async (t) => {
  t.timeout(180_000);
  const commands = readmeStopCommands();
  t.is(commands.length, 3, 'move the policy away, look at the pool, retire it');
  const [moveAway, look, retire] = commands as [string, string, string];
  t.regex(moveAway, /mv policies\/web\.yaml /);
  t.regex(retire, /POST .*\/api\/pools\/web\/retire/);

  const front = await freePort();
  const policies = { 'web.yaml': readFileSync(join(REPO, 'policies', 'web.yaml'), 'utf8').replace('127.0.0.1:8080', `127.0.0.1:${front}`) };
  const env = { GRIDHOST_API_TOKEN: TOKEN };
  const { start } = gridhostsOf(t);
  const first = await start({ policies, env });
  await waitUntil(async () => (await getJson(`${first.api}/api/pools/web`)).json.counts?.healthy === 2, 60_000, 'two healthy guests');
  const records = guestRecords(first.dir, 'web');
  t.is(records.length, 2);

  // Ctrl-C: gridhost exits 0 and the guests keep running.
  t.is(await first.stop('SIGINT'), 0);
  for (const r of records) t.true(processAlive(r.pid, r.startTime), `guest ${r.id} still runs after Ctrl-C`);

  // Started again (it adopts them), then the README's commands, with this run's API address.
  const second = await start({ policies, env, dir: first.dir });
  await waitUntil(async () => (await getJson(`${second.api}/api/pools/web`)).json.counts?.healthy === 2, 30_000, 'guests adopted');
  const sh = (cmd: string) => run('bash', ['-c', cmd.replaceAll('127.0.0.1:8700', `127.0.0.1:${second.apiPort}`)], { cwd: first.dir, env: { ...process.env, ...env }, timeout: 120_000 });
  await sh(moveAway);
  await waitUntil(async () => JSON.parse((await sh(look)).stdout).status === 'unmanaged', 20_000, 'the README\'s look command to show unmanaged');
  const answer = JSON.parse((await sh(retire)).stdout) as { pool: string; retired: string[]; failed: unknown[] };
  t.deepEqual({ pool: answer.pool, retired: [...answer.retired].sort(), failed: answer.failed }, { pool: 'web', retired: records.map((r) => r.id).sort(), failed: [] });

  // Then Ctrl-C, with nothing left running.
  t.is(await second.stop('SIGINT'), 0);
  for (const r of records) t.false(processAlive(r.pid, r.startTime), `guest ${r.id} stopped`);
  t.deepEqual(processesUnder(join(first.dir, 'data')), []);
  t.deepEqual(cloneDirs(first.dir, 'web'), []);
});
