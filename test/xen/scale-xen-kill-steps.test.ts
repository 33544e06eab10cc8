// A real SIGKILL of gridhost in the middle of a Xen lifecycle step that leaves something on
// dom0 (issue 10): while a clone is being copied (drain and shutdown: to come, see below).
// (`xl create`: scale-xen-restart.test.ts.) No test hook: the test watches dom0 and gridhost's
// API and kills at the moment the step is under way, so the remote command may outlive the
// killed gridhost, as it would in production. After each kill the next gridhost starts on the
// same data and the test waits for convergence, then checks that dom0 holds exactly the pool's
// live guests (domain, rendered config, clone: nothing the store does not account for) and
// that no guest is left in a transitional state. Prints the table of steps x outcome.
//
// One lab, one pool (min 2, max 3, a rule that always wants the minimum).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, getJson, REPO, sleep, startGridhost, waitUntil, workspace, type GridhostProcess, type StartOptions } from '../e2e/harness.ts';
import { REPAIR_KINDS } from '../../src/controller/repair-kinds.ts';
import { type Lab, gridhostDom0Yaml, gridhostLeftovers, leftoversOf, removeGridhostGuests, startLab } from './lab.ts';

const POOL = 'xks';
const CFG_DIR = '/etc/xen/gridhost';
const SLOW = Math.max(1, Number(process.env.GRIDHOST_XEN_E2E_SLOW ?? 1));
const s = (seconds: number): number => Math.round(seconds * SLOW * 1000);

let lab: Lab;
test.before(async () => {
  lab = await startLab({ log: () => undefined });
});
test.after.always(async () => {
  await lab?.stop();
});

function policy(lbPort: number): string {
  return `pool: ${POOL}
min: 2
max: 3
guest:
  driver: xen
  template: web.xen.xl.cfg
  image: ${lab.baseImage}
  clone: copy
  boot_timeout: ${Math.round(s(180) / 1000)}s
  stop_timeout: 30s
  drain_timeout: 15s            # a window to kill it in while it drains
balancer:
  listen: 127.0.0.1:${lbPort}
  check:
    interval: 5s
    rise: 1
    fall: 3
sampling:
  interval: 3s
scale_in:
  cooldown: 2s
  stabilization: 0s
rules:
  - name: quiet                 # no real load: always down to min
    strategy: threshold
    metric: rps
    below: 1000
    for: 1
    step: -1
`;
}

const view = async (gh: GridhostProcess): Promise<any> => (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
const TRANSITIONAL = ['cloning', 'booting', 'draining', 'stopping', 'sick'];

/** The pool at `n` healthy guests, all serving in the balancer, none in a transitional state. */
const settled = (gh: GridhostProcess, n: number) => async () => {
  const v = await view(gh);
  if (!v?.counts || v.counts.healthy !== n || TRANSITIONAL.some((st) => (v.counts[st] ?? 0) > 0)) return undefined;
  return v.backends?.filter((b: any) => b.healthy).length === n ? v : undefined;
};

interface Outcome {
  step: string;
  atKill: string;
  repair: string;
  convergedS: number;
}

test.serial('SIGKILL mid-clone on Xen: the next gridhost converges and dom0 holds exactly the live guests', async (t) => {
  t.timeout(s(1200));
  const lbPort = await freePort();
  const template = readFileSync(join(REPO, 'templates', 'web.xen.xl.cfg'), 'utf8');
  const opts: StartOptions = { config: gridhostDom0Yaml(lab), policies: { [`${POOL}.yaml`]: policy(lbPort) }, templates: { 'web.xen.xl.cfg': template }, startTimeoutMs: s(120) };
  const dir = workspace(opts);
  const started: GridhostProcess[] = [];
  const table: Outcome[] = [];
  t.teardown(async () => {
    for (const gh of started) await gh.stop('SIGKILL');
    await removeGridhostGuests(lab, CFG_DIR);
    started[0]?.cleanup();
  });
  t.teardown(() => t.log(['step | on dom0 at the kill | repair by the next gridhost | converged', ...table.map((o) => `${o.step} | ${o.atKill} | ${o.repair} | ${o.convergedS.toFixed(0)} s`)].join('\n')));
  t.deepEqual(await gridhostLeftovers(lab, CFG_DIR), [], 'the lab starts clean');
  const start = async (): Promise<GridhostProcess> => {
    const gh = await startGridhost({ ...opts, dir });
    started.push(gh);
    return gh;
  };
  /** Kill `gh`, start the next gridhost on the same data, wait until the pool is `n` healthy. */
  const killAndRecover = async (step: string, gh: GridhostProcess, n: number): Promise<GridhostProcess> => {
    t.is(await gh.stop('SIGKILL'), null, `${step}: killed`);
    const atKill = (await gridhostLeftovers(lab, CFG_DIR)).join(', ') || 'nothing';
    const t0 = Date.now();
    const next = await start();
    const reconciled = await waitUntil(() => next.logs.find((l) => l.msg === 'reconciled' && l.pool === POOL), s(120), `${step}: the reconciled line`);
    const v = await waitUntil(settled(next, n), s(300), `${step}: the pool settled at ${n} healthy guests after the kill`, 500);
    // A remote command still running at the kill (cp, xl shutdown) has ended by now; whatever
    // it made or left is gone, and nothing appears afterwards.
    await sleep(s(10));
    const live: string[] = v.guests.filter((g: any) => g.state === 'healthy').map((g: any) => g.id).sort();
    t.deepEqual(await gridhostLeftovers(lab, CFG_DIR), leftoversOf(live), `${step}: dom0 holds exactly the live guests`);
    const repair = REPAIR_KINDS.filter((k) => Array.isArray(reconciled[k]) && (reconciled[k] as unknown[]).length > 0)
      .map((k) => `${k} ${(reconciled[k] as unknown[]).length}`).join(', ') || 'none needed';
    table.push({ step, atKill, repair, convergedS: (Date.now() - t0) / 1000 });
    return next;
  };

  // 1. Mid-clone: the first gridhost writes a guest's config on dom0 and then copies the base
  //    image (~2 s idle); kill it as soon as the config is there.
  const gh = await start();
  await waitUntil(async () => /\.cfg$/m.test((await lab.ssh(`ls ${CFG_DIR} 2>/dev/null`)).stdout), s(120), 'a config on dom0 (the clone under way)', 0);
  await killAndRecover('clone', gh, 2);

  // Mid-drain and mid-shutdown kills on the lab are still to come: with the min lowered from 3 to
  // 2 no drain was seen within 120 s in two runs (cause not yet found); the local driver's
  // kill-steps test (test/e2e/kill-steps.test.ts) covers every scale-in step.
  t.is(table.length, 1);
});
