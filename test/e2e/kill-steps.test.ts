// A real SIGKILL of gridhost at every lifecycle step of scale-out and scale-in (issue 10), local
// driver and builtin balancer. GRIDHOST_TEST_PAUSE_AT=<step> makes gridhost stop just before the
// step (for "spawned": between a guest's spawn and its guest.json, the spawn-to-record gap) and
// wait; the test kills it there, starts a gridhost without the hook on the same data and waits
// for convergence, then checks: no guest process, clone or balancer entry the store does not
// account for; the pool at its desired size within bounds; the repairs in the history. Prints
// the table of steps x outcome.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cloneDirs, freePort, getJson, gridhostsOf, guestRecords, holderOf, processesUnder, waitUntil, workspace, type GridhostProcess,
} from './harness.ts';

const POOL = 'ks';

function policy(lbPort: number, min: number): string {
  return `pool: ${POOL}
min: ${min}
max: 4
guest:
  driver: local
  template: web.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 2s
  drain_timeout: 1s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 30s
warmup: 500ms
scale_in:
  cooldown: 1s
  stabilization: 0s
rules:
  - name: quiet
    strategy: threshold
    metric: rps
    below: 1000
    for: 2
    step: -1
`;
}

const OUT_STEPS = ['clone', 'spawned', 'boot', 'health', 'register'];
const IN_STEPS = ['drain', 'deregister', 'stop', 'delete-clone'];
const env = { GRIDHOST_LEASE: '3s' };
const table: string[] = [];

async function converged(gh: GridhostProcess, dir: string, size: number) {
  return waitUntil(async () => {
    const v = (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
    if (!v?.counts) return undefined;
    const transitional = ['cloning', 'booting', 'draining', 'stopping'].some((s) => v.counts[s] > 0);
    if (transitional || v.counts.healthy !== size) return undefined;
    if (v.backends.filter((b: any) => b.healthy).length !== size) return undefined;
    return v;
  }, 60_000, `the pool converged to ${size} healthy guests`, 250);
}

async function killAt(t: import('ava').ExecutionContext, step: string, phase: 'out' | 'in') {
  const lb = await freePort();
  const desired = 2;
  const first = phase === 'in' ? 3 : 2;
  const dir = workspace({ policies: { [`${POOL}.yaml`]: policy(lb, first) } });
  const { start } = gridhostsOf(t, dir);
  if (phase === 'in') {
    // Three healthy guests, a clean stop, then min 2: the next gridhost scales in 3 -> 2.
    const pre = await start({ dir, policies: { [`${POOL}.yaml`]: policy(lb, 3) }, env });
    await converged(pre, dir, 3);
    await pre.stop('SIGTERM');
    writeFileSync(join(dir, 'policies', `${POOL}.yaml`), policy(lb, 2));
  }
  const victim = await start({ dir, policies: { [`${POOL}.yaml`]: policy(lb, desired) }, env: { ...env, GRIDHOST_TEST_PAUSE_AT: step } });
  const paused = await waitUntil(() => victim.logs.find((l) => l.event === 'test-pause'), 60_000, `the pause at ${step}`);
  t.is(paused.step, step);
  await victim.stop('SIGKILL');
  const killedGuest = String(paused.guest);

  const next = await start({ dir, policies: { [`${POOL}.yaml`]: policy(lb, desired) }, env });
  const started = Date.now();
  const v = await converged(next, dir, desired);
  const took = Date.now() - started;

  // Nothing the store does not account for: guest processes, clones, balancer entries.
  const live = (v.guests as { id: string; state: string }[]).map((g) => g.id).sort();
  const records = guestRecords(dir, POOL);
  const pidsOfLive = records.filter((r) => live.includes(r.id)).map((r) => r.pid);
  const procsNow = processesUnder(join(dir, 'data', 'guests'));
  const strays = procsNow.filter((pid) => !pidsOfLive.some((p) => isInGroup(pid, p)));
  t.deepEqual(strays, [], `${step}: guest processes not accounted for`);
  t.deepEqual(cloneDirs(dir, POOL).map((d) => d.split('/').pop()).sort(), live, `${step}: clones = live guests`);
  t.deepEqual((v.backends as { id: string }[]).map((b) => b.id).sort(), live, `${step}: balancer entries = live guests`);
  t.is(live.length, desired);
  // What the history says about the guest the kill cut short.
  const history = (await getJson(`${next.api}/api/pools/${POOL}/history?limit=1000`)).json.history as { kind: string; repair?: string; guest?: string; holder?: string }[];
  const nextHolder = holderOf(next);
  const repairs = history.filter((h) => h.kind === 'repair' && h.guest === killedGuest && h.holder === nextHolder).map((h) => h.repair);
  t.true(repairs.length > 0 || live.includes(killedGuest), `${step}: the killed guest ${killedGuest} is repaired or serving`);
  table.push(`| ${phase === 'out' ? 'scale-out' : 'scale-in'} | ${step} | ${repairs.join(', ') || (live.includes(killedGuest) ? 'adopted' : 'none')} | ${live.includes(killedGuest) ? 'kept' : 'removed'} | ${desired} healthy ${(took / 1000).toFixed(1)} s after the restart answered | none |`);
}

/** A process of the guest started as `leader` (its process group). */
function isInGroup(pid: number, leader: number): boolean {
  if (pid === leader) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === leader;
  } catch {
    return false;
  }
}

for (const step of OUT_STEPS) test.serial(`SIGKILL at scale-out step ${step}: the next gridhost leaves nothing unaccounted for and the pool converges`, (t) => killAt(t, step, 'out'));
for (const step of IN_STEPS) test.serial(`SIGKILL at scale-in step ${step}: the next gridhost leaves nothing unaccounted for and the pool converges`, (t) => killAt(t, step, 'in'));

test.after.always((t) => {
  t.log(['', '| action | killed before | repair of the cut guest | guest | convergence | leaks |', '| --- | --- | --- | --- | --- | --- |', ...table].join('\n'));
});
