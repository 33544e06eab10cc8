// The CLI's client commands against a real gridhost (bin/gridhost.js as an operator runs it):
// status, events (--follow), explain, scale (--wait), pause, resume, retire, reset-breaker;
// --help and --json; exit codes 0 (ok), 1 (failed), 2 (usage).
import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO, freePort, getJson, runCli, startGridhost, waitUntil, type GridhostProcess } from '../e2e/harness.ts';

const TOKEN = 'cli-client-token-2b7d9e';

function policy(lbPort: number): string {
  return `pool: web
min: 2
max: 4
guest:
  template: web.local.yaml
  image: images/web
  boot_timeout: 20s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 10s
scale_in:
  cooldown: 1s
  stabilization: 0s
rules:
  - name: rps
    strategy: target-tracking
    metric: rps
    target: 45
`;
}

let gh: GridhostProcess;
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { cwd: gh.dir, env: { GRIDHOST_URL: gh.api, GRIDHOST_API_TOKEN: TOKEN, GRIDHOST_ACTOR: 'tester@ci', ...env } });

test.before(async () => {
  gh = await startGridhost({ policies: { 'web.yaml': policy(await freePort()) }, env: { GRIDHOST_API_TOKEN: TOKEN } });
  // Two healthy guests, and a decision made on their sampled rps (status prints it as a number).
  await waitUntil(async () => {
    const v = (await getJson(`${gh.api}/api/pools/web`)).json;
    return v.guests?.filter((g: { state: string }) => g.state === 'healthy').length === 2 && (v.lastDecision?.inputs?.series?.rps?.length ?? 0) > 0;
  }, 60_000, 'two healthy guests and a decision on their rps');
});

test.after.always(async () => {
  await gh?.stop();
  gh?.cleanup();
});

test.serial('status prints a table like kubectl get hpa; status POOL the pool with its guests', async (t) => {
  const all = await cli(['status']);
  t.is(all.code, 0, all.stderr);
  const [header, row] = all.stdout.split('\n');
  t.regex(header!, /^POOL\s+MODE\s+TARGETS\s+MIN\s+DESIRED\s+CURRENT\s+MAX\s+HEALTHY\s+BREAKER\s+LAST DECISION$/);
  t.regex(row!, /^web\s+auto\s+rps [\d.]+\/45\s+2\s+2\s+2\s+4\s+2\s+closed\s+\d+s ago: /);
  const one = await cli(['status', 'web']);
  t.is(one.code, 0, one.stderr);
  t.regex(one.stdout, /^GUEST\s+STATE\s+HOST\s+ADDRESS\s+AGE\s+CPU\s+LOAD\s+HEALTH$/m);
  t.is(one.stdout.split('\n').filter((l) => /^web-\S+\s+healthy\s+localhost\s+127\.0\.0\.1:\d+/.test(l)).length, 2);
  const json = await cli(['status', '--json']);
  t.is(JSON.parse(json.stdout).pools[0].pool, 'web');
});

test.serial('explain names why the pool holds and shows each rule against its target', async (t) => {
  const r = await cli(['explain', 'web']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^web: mode auto, 2 counted guests \(2 healthy\), bounds 2\.\.4/);
  t.regex(r.stdout, /held: +(steady: no rule wants a change|at min 2: the rules want [01])/);
  t.regex(r.stdout, /^\s+rps\s+target-tracking\s+rps [\d.]+\s+target 45\s+/m);
  const json = JSON.parse((await cli(['explain', 'web', '--json', '--limit', '5'])).stdout);
  t.is(json.decisions.length, 5);
  t.truthy(json.decisions[0].hold.cause);
});

test.serial('scale --wait holds the pool at N; events shows who asked; explain says it is held by hand; resume hands it back', async (t) => {
  const r = await cli(['scale', 'web', '3', '--reason', 'campaign', '--wait', '--timeout', '60s']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^set by hand to 3 by tester@ci: campaign/);
  t.regex(r.stdout, /web: 3 of 3 \(3 healthy\)$/m);
  const ev = await cli(['events', '--pool', 'web', '--limit', '5']);
  t.is(ev.code, 0, ev.stderr);
  t.regex(ev.stdout, /web {2}scale to 3 {2}done \[by tester@ci\] {2}set by hand to 3 by tester@ci: campaign/);
  t.regex(ev.stdout, /web {2}scale-out 2 -> 3 {2}done \[by tester@ci\]/);
  t.regex((await cli(['explain', 'web'])).stdout, /held: +held by hand at 3 by tester@ci \(campaign\)/);
  t.regex((await cli(['status'])).stdout, /^web\s+manual\(3\)/m);
  const back = await cli(['resume', 'web', '--reason', 'campaign over']);
  t.is(back.code, 0, back.stderr);
  t.regex(back.stdout, /^resumed by tester@ci: campaign over/);
});

test.serial('pause and resume; a second pause says it already was', async (t) => {
  t.regex((await cli(['pause', 'web', '--reason', 'incident 42'])).stdout, /^paused by tester@ci: incident 42/);
  const again = await cli(['pause', 'web']);
  t.is(again.code, 0);
  t.regex(again.stdout, /already paused by tester@ci/);
  t.regex((await cli(['status', 'web'])).stdout, /paused by tester@ci \d+s ago: incident 42/);
  t.is((await cli(['resume', 'web'])).code, 0);
});

test.serial('retire drains and retires one guest; at min a replacement comes first', async (t) => {
  const before = (await getJson(`${gh.api}/api/pools/web`)).json.guests.filter((g: { state: string }) => g.state === 'healthy');
  await waitUntil(async () => (await getJson(`${gh.api}/api/pools`)).json.pools[0].size === 2, 60_000, 'back at 2');
  const victim = before[0].id as string;
  const r = await cli(['retire', 'web', victim, '--reason', 'kernel oops', '--json']);
  t.is(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  t.is(res.guest, victim);
  t.truthy(res.replacement);
  const after = (await getJson(`${gh.api}/api/pools/web`)).json.guests.map((g: { id: string }) => g.id);
  t.false(after.includes(victim));
  t.true(after.includes(res.replacement));
});

test.serial('events --follow prints new events as they happen until interrupted', async (t) => {
  const child = spawn(process.execPath, [join(REPO, 'bin', 'gridhost.js'), 'events', '--follow', '--limit', '1'], {
    cwd: gh.dir, env: { ...process.env, GRIDHOST_URL: gh.api }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  await waitUntil(() => out.split('\n').length >= 2, 20_000, 'the last event');
  t.is((await cli(['reset-breaker', 'web', '--reason', 'follow test'])).code, 0);
  await waitUntil(() => /breaker-reset {2}skipped \[by tester@ci\] {2}launch breaker reset by tester@ci: follow test/.test(out), 20_000, `the new event in ${out}`);
  t.is(out.trim().split('\n').length, 2, 'the last event, then only the new one');
  child.kill('SIGINT');
  t.is(await exited, 0);
});

const failures: { args: string[]; env?: Record<string, string>; code: number; err: RegExp; when?: string }[] = [
  { args: ['status', 'nosuch'], code: 1, err: /GH_NOT_FOUND: no pool named nosuch/ },
  { args: ['explain', 'nosuch'], code: 1, err: /GH_NOT_FOUND/ },
  { args: ['scale', 'web', '99'], code: 1, err: /desired: must be an integer from 2 to 4/ },
  { args: ['retire', 'web', 'web-nosuch'], code: 1, err: /no live guest web-nosuch in pool web/ },
  { args: ['pause', 'web'], env: { GRIDHOST_API_TOKEN: '' }, code: 1, err: /GRIDHOST_API_TOKEN/, when: 'without a token' },
  { args: ['pause', 'web'], env: { GRIDHOST_API_TOKEN: 'wrong-token-0000000' }, code: 1, err: /GH_UNAUTHORIZED/, when: 'with a wrong token' },
  { args: ['status'], env: { GRIDHOST_URL: 'http://127.0.0.1:CLOSED' }, when: 'with nothing listening', code: 1, err: /cannot reach gridhost at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is `gridhost run` running there\?/ },
  { args: ['scale', 'web'], code: 2, err: /expected 2 arguments, got 1/ },
  { args: ['scale', 'web', 'three'], code: 2, err: /N must be a whole number/ },
  { args: ['status', '--bogus'], code: 2, err: /Unknown option '--bogus'/ },
  { args: ['events', '--limit', '0'], code: 2, err: /--limit must be an integer from 1 to 1000/ },
  { args: ['explain', 'web', '--at', 'yesterday'], code: 2, err: /--at "yesterday" is neither/ },
  { args: ['retire', 'web', '../etc'], code: 2, err: /GUEST must be a name/ },
];
for (const f of failures) {
  test(`gridhost ${f.args.join(' ')}${f.when ? ` ${f.when}` : ''} exits ${f.code}`, async (t) => {
    const closed = String(await freePort()); // nothing listens there
    const env = Object.fromEntries(Object.entries(f.env ?? {}).map(([k, v]) => [k, v.replace('CLOSED', closed)]));
    const r = await cli(f.args, env);
    t.is(r.code, f.code, r.stdout + r.stderr);
    t.regex(r.stderr, f.err);
  });
}

for (const cmd of ['status', 'events', 'explain', 'scale', 'pause', 'resume', 'retire', 'reset-breaker', 'rollout']) {
  test(`gridhost ${cmd} --help prints its usage and exits 0`, async (t) => {
    const r = await cli([cmd, '--help']);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`^usage: gridhost ${cmd}`));
    t.regex(r.stdout, /exit status: 0 /);
  });
}
