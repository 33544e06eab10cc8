// The simulator predicts the controller that really runs. A real gridhost (local driver, builtin
// balancer, SQLite) goes through a load shape (a step up, a plateau, a step down) with a fast
// rps target-tracking policy; then `gridhost simulate --replay` reruns what it recorded, with the
// boot and drain times measured in that run (the store's guest records). The simulated run must
// take the same scale actions, in the same order, with the same sizes, each within one sampling
// interval of the real one.
//
// Why this can hold: both runs fold the same samples through the same pool memory and decide();
// target tracking sizes from the pool's total rps (mean x reporting guests), which is what the
// replay's load is, however the balancer spread the requests. What the simulator does not model
// (README "Simulator"): a guest's rps warming up over its rate window, metric failures, the
// spread of boot times within one scale-out (it boots every guest for the median).
import test from 'ava';
import { freePort, getJson, openLoopLoad, runCli, sleep, startGridhost, waitUntil, type GridhostProcess } from './harness.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'fid';
const INTERVAL_MS = 1000;

const policy = (lbPort: number) => `
pool: ${POOL}
min: 2
max: 6
guest: { driver: local, template: fid.local.yaml, image: images/web, boot_timeout: 20s, stop_timeout: 5s, drain_timeout: 5s }
balancer: { listen: 127.0.0.1:${lbPort} }
sampling: { interval: ${INTERVAL_MS}ms, window: 30s }
warmup: 0s
scale_out: { cooldown: 0s, while_booting: add }
scale_in: { cooldown: 0s, stabilization: 5s }
rules:
  - { name: rps, strategy: target-tracking, metric: rps, aggregate: mean, target: 10, tolerance: 0.2, for: 1 }
`;

// Cheap requests (1 ms of CPU) and a 1 s rate window, so the guests' rps follows the load quickly.
const TEMPLATE = webTemplate(1, { RATE_WINDOW_MS: '1000' });

interface Act {
  at: number;
  direction: string;
  from: number;
  to: number;
}

async function counts(gh: GridhostProcess): Promise<{ healthy: number; busy: number }> {
  const v = (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
  return { healthy: v.counts.healthy, busy: v.counts.cloning + v.counts.booting + v.counts.draining + v.counts.stopping };
}

test('a replay of a real run through the simulator takes the same scale actions, in order, sizes and timing', async (t) => {
  t.timeout(300_000);
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'fid.yaml': policy(lbPort) }, templates: { 'fid.local.yaml': TEMPLATE }, env: { GRIDHOST_LOG_LEVEL: 'info' } });
  const front = `http://127.0.0.1:${lbPort}/`;
  let since: number;
  try {
    await waitUntil(async () => { const c = await counts(gh); return c.healthy === 2 && c.busy === 0; }, 60_000, 'the pool at its min of 2');
    // Recording starts from here: the pool's start (0 -> 2) is not part of the shape.
    await sleep(2000);
    since = Date.now();
    // Low: 6 rps (3 per guest: 2 guests are already more than enough).
    const low = openLoopLoad(front, 1000 / 6);
    await sleep(6000);
    await low.stop();
    // Step up to 48 rps: 24 per guest, ceil(2 x 24 / 10) = 5 (on a loaded machine the load
    // generator may deliver less: the replay takes whatever was recorded).
    const high = openLoopLoad(front, 1000 / 48);
    await waitUntil(async () => { const c = await counts(gh); return c.healthy >= 4 && c.busy === 0; }, 90_000, 'the pool grown to 4 or more');
    // Plateau: 5 guests at ~10 rps, inside the tolerance.
    await sleep(15_000);
    await high.stop();
    // Step down to 6 rps: back to min once the 5 s stabilization has passed.
    const low2 = openLoopLoad(front, 1000 / 6);
    await waitUntil(async () => { const c = await counts(gh); return c.healthy === 2 && c.busy === 0; }, 90_000, 'the pool back at 2');
    await sleep(3000);
    await low2.stop();
  } finally {
    await gh.stop();
  }
  try {
    // The recorded run, as the store has it.
    const replay = await runCli(['simulate', '--policy', 'policies/fid.yaml', '--replay', POOL, '--since', new Date(since).toISOString(), '--json'], {
      cwd: gh.dir,
      env: { GRIDHOST_DATA_DIR: `${gh.dir}/data`, GRIDHOST_POLICIES_DIR: `${gh.dir}/policies`, GRIDHOST_TEMPLATES_DIR: `${gh.dir}/templates` },
    });
    t.is(replay.code, 0, replay.stderr);
    const out = JSON.parse(replay.stdout);
    const recorded: Act[] = out.recorded.actions
      .filter((a: { outcome: string }) => a.outcome === 'done')
      .map((a: { at: string; direction: string; from: number; to: number }) => ({ at: Date.parse(a.at), direction: a.direction, from: a.from, to: a.to }));
    const simulated: Act[] = out.simulated.actions.map((a: { at: string; direction: string; from: number; to: number }) => ({ at: Date.parse(a.at), direction: a.direction, from: a.from, to: a.to }));
    const fmt = (xs: Act[]) => xs.map((a) => `${((a.at - since) / 1000).toFixed(1)}s ${a.direction} ${a.from}->${a.to}`).join(', ');
    // Every recorded event, skipped ones too (a skip is the actuator's recheck of a stale decision).
    const events = out.recorded.actions.map((a: { at: string; direction: string; from: number; to: number; outcome: string }) => `${((Date.parse(a.at) - since) / 1000).toFixed(1)}s ${a.direction} ${a.from}->${a.to} ${a.outcome}`).join(', ');
    const detail = `recorded: ${fmt(recorded)}\nsimulated: ${fmt(simulated)}\nevents: ${events}\nmodel: ${JSON.stringify(out.model)}`;
    t.log(detail);
    // The shape happened: scale-outs to 4 or more and scale-ins back to 2.
    t.true(recorded.some((a) => a.direction === 'scale-out' && a.to >= 4), detail);
    t.true(recorded.some((a) => a.direction === 'scale-in' && a.to === 2), detail);
    t.deepEqual(simulated.map((a) => `${a.direction} ${a.from}->${a.to}`), recorded.map((a) => `${a.direction} ${a.from}->${a.to}`), detail);
    for (let i = 0; i < recorded.length; i++) {
      const drift = Math.abs(simulated[i]!.at - recorded[i]!.at);
      t.true(drift <= INTERVAL_MS, `action ${i} is ${drift} ms from the real one (at most one sampling interval)\n${detail}`);
    }
    // The replay used what this run measured, not the defaults, and added no noise to it.
    t.regex(out.model.bootFrom, /creation to healthy/);
    t.regex(out.model.drainFrom, /scale-in to gone/);
    t.is(out.model.noise, 0);
  } finally {
    gh.cleanup();
  }
});
