// Bad policy files get a clear, located error and take nothing down: a real gridhost process
// with one good policy and five bad ones beside it, `gridhost validate` on the same folder,
// then live reloads (change, break, delete) and the retire API on the pool left behind.
import test from 'ava';
import { POLICY_TOP_KEYS } from '../../src/policy/parse-policy.ts';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort, getJson, guestRecords, killProcessesUnder, processAlive, request, runCli, sleep, startGridhost, waitUntil, workspace,
} from './harness.ts';
import { idlePoolPolicy } from './idle-pool-policy.ts';

const POOL = 'good';
const TOKEN = 'e2e-secret-token-4f1c9a';

const goodPolicy = (lbPort: number, max: number) => idlePoolPolicy({ pool: POOL, lbPort, max, stopTimeout: '5s', drainTimeout: '5s' });

const RULES = `rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 1000
    for: 2
    step: +1
`;
const GUEST = `guest:
  template: web.local.yaml
  image: images/web
`;

/** The bad files, each with exactly one problem, and the issue line gridhost must report for it. */
const BAD: Record<string, { text: string; issue: (file: string, goodFile: string) => string }> = {
  'bad-yaml.yaml': {
    text: `pool: broken\nmin: [2\nmax: 8\n${GUEST}${RULES}`,
    issue: (f) => `${f}:3:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]`,
  },
  'min-max.yaml': {
    text: `pool: minmax\nmin: 5\nmax: 3\n${GUEST}${RULES}`,
    issue: (f) => `${f}:2:6: min: must be <= max (3) (found 5)`,
  },
  'shell-name.yaml': {
    text: `pool: "a;rm"\n${GUEST}${RULES}`,
    issue: (f) => `${f}:1:7: pool: must be 1-32 characters of a-z, 0-9 and "-", starting with a letter: it becomes part of file paths, command arguments and guest names, so "/", "..", spaces and shell characters are not allowed (found "a;rm")`,
  },
  'unknown-key.yaml': {
    text: `pool: unk\n${GUEST}colour: red\n${RULES}`,
    issue: (f) => `${f}:5:1: colour: unknown key; allowed here: ${POLICY_TOP_KEYS.join(', ')} (found "colour")`,
  },
  // Sorts after good.yaml, so good.yaml holds the pool and this one is the duplicate.
  'zz-dup.yaml': {
    text: `# claims the good pool\npool: ${POOL}\n${GUEST}${RULES}`,
    issue: (f, good) => `${f}:2:7: pool: pool "${POOL}" is already defined by ${good}; each pool has exactly one policy file (found "${POOL}")`,
  },
};

/** Replace a file atomically (as editors that save by rename do), so no scan reads it half-written. */
function replaceFile(file: string, text: string): void {
  const tmp = join(file, '..', `.${Date.now()}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

const rejected = (logs: Record<string, unknown>[], file: string) =>
  logs.filter((l) => l.msg === 'policy rejected' && l.file === file).map((l) => ({ level: l.level, issue: l.issue }));

test.serial('gridhost validate prints one located line per bad file and exits 1; a folder of good files exits 0', async (t) => {
  const lbPort = await freePort();
  const dir = workspace({ policies: { 'good.yaml': goodPolicy(lbPort, 8), ...Object.fromEntries(Object.entries(BAD).map(([n, b]) => [n, b.text])) } });
  const goodOnly = workspace({ policies: { 'good.yaml': goodPolicy(lbPort, 8) } });
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(goodOnly, { recursive: true, force: true });
  });
  const policies = join(dir, 'policies');
  const env = { GRIDHOST_TEMPLATES_DIR: join(dir, 'templates'), GRIDHOST_POLICIES_DIR: policies };

  const bad = await runCli(['validate', policies], { cwd: dir, env });
  t.is(bad.code, 1, bad.stderr);
  const expected = Object.entries(BAD).map(([name, b]) => b.issue(join(policies, name), join(policies, 'good.yaml')));
  t.deepEqual(bad.stderr.trimEnd().split('\n'), expected);
  t.is(bad.stdout, `ok ${join(policies, 'good.yaml')} (pool ${POOL})\n`);

  const good = await runCli(['validate', join(goodOnly, 'policies')], { cwd: goodOnly, env: { GRIDHOST_TEMPLATES_DIR: join(goodOnly, 'templates') } });
  t.is(good.code, 0, good.stderr);
  t.is(good.stderr, '');
  t.is(good.stdout, `ok ${join(goodOnly, 'policies', 'good.yaml')} (pool ${POOL})\n`);
});

test.serial('bad policy files are rejected with located errors while the good pool runs; reloads keep the last good version; a removed pool keeps its guests until retired with the token', async (t) => {
  t.timeout(90_000);
  const lbPort = await freePort();
  const gh = await startGridhost({
    policies: { 'good.yaml': goodPolicy(lbPort, 8), ...Object.fromEntries(Object.entries(BAD).map(([n, b]) => [n, b.text])) },
    env: { GRIDHOST_API_TOKEN: TOKEN },
  });
  t.teardown(async () => {
    await gh.stop();
    killProcessesUnder(gh.dir);
    gh.cleanup();
  });
  const policies = join(gh.dir, 'policies');
  const goodFile = join(policies, 'good.yaml');
  const front = `http://127.0.0.1:${lbPort}/`;

  // 1. Every bad file: exactly its one located issue, logged as an error; and the same lines
  //    as `gridhost validate` prints. (Lines before "gridhost ready" have all arrived once it has.)
  await waitUntil(() => gh.logs.find((l) => l.msg === 'gridhost ready'), 10_000, 'ready line');
  const validate = await runCli(['validate', policies], { cwd: gh.dir, env: { GRIDHOST_TEMPLATES_DIR: join(gh.dir, 'templates') } });
  t.is(validate.code, 1);
  const validateLines = validate.stderr.trimEnd().split('\n');
  for (const [name, b] of Object.entries(BAD)) {
    const file = join(policies, name);
    t.deepEqual(rejected(gh.logs, file), [{ level: 'error', issue: b.issue(file, goodFile) }], name);
    t.true(validateLines.includes(b.issue(file, goodFile)), `validate did not print the issue of ${name}`);
  }
  t.is(validateLines.length, Object.keys(BAD).length);
  t.deepEqual((await getJson(`${gh.api}/api/pools`)).json.pools.map((p: any) => p.pool), [POOL], 'only the good pool exists');

  // 2. The good pool reaches two healthy guests and serves through its front end.
  const view = await waitUntil(async () => {
    const v = (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
    return v.counts?.healthy === 2 && v.backends.filter((b: any) => b.healthy).length === 2 && v;
  }, 40_000, 'two healthy guests');
  const ids: string[] = view.guests.map((g: any) => g.id).sort();
  const served = await request(front);
  t.is(served.status, 200);
  t.regex(served.body, new RegExp(`^(${ids.join('|')}) worked \\d+ ms\\n$`));
  t.is(view.bounds.max, 8);

  // 3. Live reload: max 8 -> 4 applies, with a "policy reloaded" line naming what changed.
  replaceFile(goodFile, goodPolicy(lbPort, 4));
  await waitUntil(async () => (await getJson(`${gh.api}/api/pools/${POOL}`)).json.bounds.max === 4, 15_000, 'max 4 in force');
  const reloaded = await waitUntil(() => gh.logs.find((l) => String(l.msg).startsWith('policy reloaded') && l.pool === POOL && l.file === goodFile), 10_000, 'policy reloaded line');
  t.like(reloaded, { level: 'info', msg: 'policy reloaded: max 8 -> 4', changes: ['max 8 -> 4'] });

  // 4. A broken version is rejected (an error line) and the last good version stays in force.
  const brokenText = goodPolicy(lbPort, 4).replace('max: 4', 'max: many');
  replaceFile(goodFile, brokenText);
  const brokenLine = await waitUntil(() => gh.logs.find((l) => l.msg === 'policy rejected' && l.file === goodFile), 15_000, 'broken policy rejected');
  t.is(brokenLine.level, 'error');
  t.is(brokenLine.issue, `${goodFile}:3:6: max: must be an integer, found a string (found "many")`);
  await sleep(2500); // one more rescan of the folder
  const kept = (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
  t.true(kept.managed);
  t.is(kept.bounds.max, 4);
  t.is(kept.bounds.policyMax, 4);
  t.deepEqual(kept.guests.filter((g: any) => g.state === 'healthy').map((g: any) => g.id).sort(), ids);

  // 5. Deleting the file (the duplicate first, or it would take the freed pool over): the pool
  //    is no longer managed, but its guests keep running and its front end keeps serving.
  rmSync(join(policies, 'zz-dup.yaml'));
  rmSync(goodFile);
  await waitUntil(async () => {
    const pools = (await getJson(`${gh.api}/api/pools`)).json.pools;
    return pools.length === 1 && pools[0].pool === POOL && pools[0].managed === false;
  }, 15_000, 'pool unmanaged');
  // The API shows the pool unmanaged as soon as its loop is dropped; the line follows the loop's stop.
  const removedLine = await waitUntil(() => gh.logs.find((l) => l.pool === POOL && l.msg === 'policy removed: pool no longer managed; its guests keep running'), 10_000, 'removal line');
  t.is(removedLine.level, 'warn');
  const records = guestRecords(gh.dir, POOL);
  t.deepEqual(records.map((r) => r.id).sort(), ids);
  for (const r of records) t.true(processAlive(r.pid, r.startTime), `guest ${r.id} was stopped when its policy was removed`);
  const stillServed = await request(front);
  t.is(stillServed.status, 200);

  // 6. Retiring needs the token: none -> 401, wrong -> 401, right -> the guests and clones go.
  const retire = (headers: Record<string, string> = {}) => request(`${gh.api}/api/pools/${POOL}/retire`, { method: 'POST', headers });
  const refused: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token' }, { authorization: TOKEN }];
  for (const headers of refused) {
    const r = await retire(headers);
    t.is(r.status, 401, JSON.stringify(headers));
    t.is(JSON.parse(r.body).error.code, 'GH_UNAUTHORIZED');
  }
  for (const r of records) t.true(processAlive(r.pid, r.startTime), 'a refused retire stopped nothing');
  const ok = await retire({ authorization: `Bearer ${TOKEN}` });
  t.is(ok.status, 200, ok.body);
  t.deepEqual(JSON.parse(ok.body).retired.sort(), ids);
  for (const r of records) {
    t.false(processAlive(r.pid, r.startTime), `guest ${r.id} still running after retire`);
    t.false(existsSync(r.clonePath), `clone of ${r.id} left behind`);
  }
  const after = (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
  t.deepEqual(after.guests, []);

  // The token never reaches the log.
  t.false(JSON.stringify(gh.logs).includes(TOKEN), 'the API token appeared in a log line');
  t.false(gh.stderr.join('').includes(TOKEN));
});
