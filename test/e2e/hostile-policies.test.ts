// Hostile files in the policies folder of a running gridhost (issue 16, items 11 and 12): a
// file of 30,000 keys (over the size limit), one of 5,000 keys (58 KB) (under it), a symlink to a
// password file outside the folder, a binary; then the good policy replaced by a directory.
// Each costs a few log lines that quote nothing of the file, and gridhost keeps serving.
import test from 'ava';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, getJson, killProcessesUnder, request, startGridhost, waitUntil } from './harness.ts';

function goodPolicy(lbPort: number): string {
  return `pool: good
min: 1
max: 1
guest:
  template: web.local.yaml
  image: images/web
  boot_timeout: 20s
balancer:
  listen: 127.0.0.1:${lbPort}
rules:
  - {strategy: target-tracking, metric: rps, target: 1000}
`;
}

const keys = (n: number) => `pool: many\n${Array.from({ length: n }, (_, i) => `key_${i}: 1`).join('\n')}\n`;

test('hostile policy files are refused in a few log lines each while gridhost keeps serving; a policy replaced by a directory is an error line', async (t) => {
  t.timeout(90_000);
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'good.yaml': goodPolicy(lbPort) } });
  t.teardown(async () => {
    await gh.stop();
    killProcessesUnder(gh.dir);
    gh.cleanup();
  });
  const policies = join(gh.dir, 'policies');
  await waitUntil(async () => (await getJson(`${gh.api}/api/pools/good`)).json.counts?.healthy === 1, 40_000, 'one healthy guest');

  const passwd = join(gh.dir, 'passwd');
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n');
  writeFileSync(join(policies, 'huge.yaml'), keys(30_000));
  writeFileSync(join(policies, 'many.yaml'), keys(5_000));
  writeFileSync(join(policies, 'bin.yaml'), Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919 + 13) % 256)));
  symlinkSync(passwd, join(policies, 'web.yaml'));

  const lines = (file: string) => gh.logs.filter((l) => l.file === join(policies, file) && l.level === 'error');
  await waitUntil(() => ['huge.yaml', 'many.yaml', 'bin.yaml', 'web.yaml'].every((f) => lines(f).length > 0) && lines('many.yaml').length === 11, 30_000, 'every file rejected');
  t.deepEqual(lines('huge.yaml').map((l) => l.issue), [`${join(policies, 'huge.yaml')}:1:1: policy file is ${Buffer.byteLength(keys(30_000))} bytes; the limit is 65536 bytes (64 KiB)`]);
  // 5,000 unknown keys, plus guest and rules missing.
  t.is(lines('many.yaml')[10]!.msg, `policy rejected: 4992 more issues not logged; \`gridhost validate --all ${join(policies, 'many.yaml')}\` lists them`);
  t.deepEqual(lines('web.yaml').map((l) => l.issue), [
    `${join(policies, 'web.yaml')}:1:1: is a symlink to ${passwd}, outside the policies folder ${policies}; refused: a policy file must be in the policies folder (a link may point only to a file inside it)`,
  ]);
  const all = JSON.stringify(gh.logs);
  t.false(all.includes('root:x:0:0'), 'the password file is never quoted');
  for (const l of gh.logs) t.true(JSON.stringify(l).length < 1000, `a ${JSON.stringify(l).length}-character log line: ${JSON.stringify(l).slice(0, 300)}`);

  // The pool and the API were served throughout; an unchanged bad file is not rejected again.
  t.is((await request(`http://127.0.0.1:${lbPort}/`)).status, 200);
  t.is((await getJson(`${gh.api}/healthz`)).status, 200);
  const before = gh.logs.filter((l) => l.msg === 'policy rejected').length;

  // The good policy replaced by a directory: its pool is unmanaged, and an error line says why.
  rmSync(join(policies, 'good.yaml'));
  mkdirSync(join(policies, 'good.yaml'));
  const gone = await waitUntil(() => gh.logs.find((l) => l.level === 'error' && l.pool === 'good' && String(l.msg).startsWith('pool good is no longer managed')), 20_000, 'unmanaged error line');
  t.is(gone.msg, `pool good is no longer managed: ${join(policies, 'good.yaml')} is a directory, not a policy file; its guests keep running (fix the file, or retire them with POST /api/pools/good/retire)`);
  t.is(gone.reason, 'not-a-file');
  t.is(gh.logs.filter((l) => l.msg === 'policy rejected' && l.file !== join(policies, 'good.yaml')).length, before, 'the unchanged bad files were not reported again');
});
