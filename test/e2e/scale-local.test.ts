// End to end on embedded defaults: a real gridhost process, real guest processes, the builtin
// balancer, SQLite. Real HTTP load drives the pool 2 -> 8 -> 2.
//
// The machine has 2 cores, so per-guest CPU falls as guests are added even at constant load;
// this test scales on the guests' own request rate (`rps` from their /metrics). CPU-based
// decisions are covered by the decision-core and metrics-source tests.
import test from 'ava';
import { closedLoopLoad, getJson, freePort, openLoopLoad, request, sleep, startGridhost, type GridhostProcess } from './harness.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'e2e';

function policy(lbPort: number): string {
  return `
pool: ${POOL}
min: 2
max: 8
guest:
  driver: local
  template: e2e.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 5s
  drain_timeout: 10s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 30s
warmup: 500ms
scale_out:
  cooldown: 1s
scale_in:
  cooldown: 1s
  stabilization: 1s
rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 8
    for: 2
    step: +1
  - name: quiet
    strategy: threshold
    metric: rps
    below: 3
    for: 3
    step: -1
`;
}

const TEMPLATE = webTemplate(3, { RATE_WINDOW_MS: '2000' });

interface Observed {
  maxSize: number;
  minSizeAfterPeak: number;
  sizes: number[];
  served: Map<string, number>;
}

async function poolView(gh: GridhostProcess) {
  const r = await getJson(`${gh.api}/api/pools/${POOL}`);
  return r.json;
}

function counted(view: any): number {
  return (view.counts.cloning ?? 0) + (view.counts.booting ?? 0) + (view.counts.healthy ?? 0);
}

async function waitFor(gh: GridhostProcess, obs: Observed, pred: (view: any) => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await poolView(gh);
    const size = counted(view);
    obs.sizes.push(size);
    obs.maxSize = Math.max(obs.maxSize, size);
    for (const b of view.backends ?? []) obs.served.set(b.id, Math.max(obs.served.get(b.id) ?? 0, b.served));
    if (pred(view)) return view;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last view: ${JSON.stringify(view.counts)} ${view.lastDecision?.reason ?? ''}`);
    await sleep(200);
  }
}

test('a pool of real local guests grows 2 -> 8 under load and shrinks back to 2 without failing a request', async (t) => {
  t.timeout(240_000);
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'e2e.yaml': policy(lbPort) }, templates: { 'e2e.local.yaml': TEMPLATE } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  const obs: Observed = { maxSize: 0, minSizeAfterPeak: Infinity, sizes: [], served: new Map() };
  const front = `http://127.0.0.1:${lbPort}/`;

  // 1. Start-up brings the pool to min.
  await waitFor(gh, obs, (v) => v.counts.healthy === 2 && counted(v) === 2, 60_000, 'two healthy guests');

  // 2. Heavy load: the pool grows step by step to exactly max.
  const heavy = closedLoopLoad(front, 6);
  await waitFor(gh, obs, (v) => v.counts.healthy === 8, 150_000, 'eight healthy guests');
  // Hold the load a little longer: the pool must stay at max (never 9) and every guest serve.
  const holdUntil = Date.now() + 3000;
  await waitFor(gh, obs, () => Date.now() > holdUntil, 10_000, 'hold at max');
  const atPeak = await poolView(gh);
  const peakGuests: string[] = atPeak.guests.map((g: any) => g.id);
  await heavy.stop();

  // 3. Light load only: the pool shrinks back to min; no request may fail meanwhile.
  const light = openLoopLoad(front, 250);
  obs.minSizeAfterPeak = Infinity;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const v = await poolView(gh);
    const size = counted(v);
    obs.sizes.push(size);
    obs.maxSize = Math.max(obs.maxSize, size);
    obs.minSizeAfterPeak = Math.min(obs.minSizeAfterPeak, size);
    if (size === 2 && v.counts.draining === 0 && v.counts.stopping === 0) break;
    if (Date.now() > deadline) throw new Error(`pool did not shrink to 2: ${JSON.stringify(v.counts)} ${v.lastDecision?.reason}`);
    await sleep(200);
  }
  // Stay a few more samples at min: scale-in never goes below it.
  const settle = Date.now() + 3000;
  while (Date.now() < settle) {
    const size = counted(await poolView(gh));
    obs.minSizeAfterPeak = Math.min(obs.minSizeAfterPeak, size);
    await sleep(200);
  }
  await light.stop();

  // Sizes: reached exactly 8, never 9, never below 2 after start-up.
  t.is(obs.maxSize, 8, `sizes seen: ${obs.sizes.join(',')}`);
  t.is(obs.minSizeAfterPeak, 2);
  t.is(heavy.stats.failed, 0, heavy.stats.errors.slice(0, 5).join('\n'));
  t.true(heavy.stats.ok > 100, `heavy load completed ${heavy.stats.ok} requests`);
  t.is(light.stats.failed, 0, `requests failed during scale-in: ${light.stats.errors.slice(0, 5).join('\n')}`);
  t.true(light.stats.ok > 10);

  // Every guest of the peak received traffic through the balancer.
  t.is(peakGuests.length, 8);
  for (const id of peakGuests) t.true((obs.served.get(id) ?? 0) > 0, `guest ${id} served no request`);

  // Events: step by step out to 8, then in to 2, each in the API, the log and /metrics.
  const events = (await getJson(`${gh.api}/api/events?pool=${POOL}&limit=1000`)).json.events as any[];
  const done = events.filter((e) => e.outcome === 'done').reverse();
  const outs = done.filter((e) => e.direction === 'scale-out' && e.from >= 2).map((e) => `${e.from}->${e.to}`);
  const ins = done.filter((e) => e.direction === 'scale-in').map((e) => `${e.from}->${e.to}`);
  t.deepEqual(outs, ['2->3', '3->4', '4->5', '5->6', '6->7', '7->8']);
  t.deepEqual(ins, ['8->7', '7->6', '6->5', '5->4', '4->3', '3->2']);
  for (const e of done) {
    t.regex(e.reason, /rps|below min/, 'the reason names what drove the decision');
    const line = gh.logs.find((l) => l.event === 'scale' && l.pool === POOL && l.from === e.from && l.to === e.to && l.outcome === 'done');
    t.truthy(line, `no log line for ${e.direction} ${e.from}->${e.to}`);
    t.is(typeof line?.duration_ms, 'number');
  }
  const metrics = (await request(`${gh.api}/metrics`)).body;
  const counter = (dir: string) => Number(new RegExp(`gridhost_scale_events_total\\{[^}]*pool="${POOL}"[^}]*direction="${dir}"[^}]*outcome="done"[^}]*\\} (\\d+)|gridhost_scale_events_total\\{[^}]*direction="${dir}"[^}]*outcome="done"[^}]*pool="${POOL}"[^}]*\\} (\\d+)`).exec(metrics)?.slice(1).find(Boolean) ?? NaN);
  t.is(counter('scale-out'), done.filter((e) => e.direction === 'scale-out').length);
  t.is(counter('scale-in'), done.filter((e) => e.direction === 'scale-in').length);
  t.regex(metrics, new RegExp(`gridhost_guests\\{[^}]*pool="${POOL}"`));
  // Guest lifecycle steps are logged with their durations.
  const steps = gh.logs.filter((l) => l.event === 'guest' && l.pool === POOL);
  for (const action of ['clone', 'boot', 'health', 'register', 'drain', 'stop', 'delete-clone']) {
    t.true(steps.some((l) => l.action === action && typeof l.duration_ms === 'number'), `no guest log line for ${action}`);
  }
});
