// End to end on real Xen, shared by the two topologies (scale-xen.test.ts: HAProxy on a routed
// guest network, the production one; scale-xen-ssh.test.ts: the builtin balancer reaching the
// guests through dom0's SSH connection, for labs and sites without a route). The Xen lab (Xen
// 4.17 + Debian dom0 in QEMU, scripts/xen-lab/), a real gridhost process driving it with the xl
// driver over one kept SSH connection, SQLite. Real HTTP load through the balancer drives the
// pool 2 -> N -> 2:
//  - the first scale-out comes from the domUs' CPU as xentop measures it (rule `hot` on `cpu`),
//  - the growth to N from the guests' own request rate (rule `busy` on `rps` from /metrics),
//  - the way back to 2 from the request rate falling (rule `quiet`).
// N is at most 8 guests of 128 MB: the lab's dom0 has 1 GB of the emulated 3 GB and `xl info`
// reports ~1.9 GB free, so 8 x 128 MB fit with room to spare (a 9th would too: max is the
// policy's, not the host's). The test ends with no domU, clone or rendered config on dom0, and
// (routed) no gridhost server left in HAProxy.
//
// Routed: the lab's guest bridge is joined to a network namespace the test makes (lab.ts
// startLab({ netns })); gridhost and HAProxy run in it (`ip netns exec`), gridhost reaches dom0's
// sshd at its guest-network address and HAProxy reaches each domU at ip:80, with no SSH on the
// data path. The test's load enters the namespace by a byte pipe to HAProxy's frontend
// (test/e2e/netns-bridge.ts), as clients reach a balancer from outside.
//
// Env knobs (the lab runs under emulation on 2 shared cores; a loaded machine is 6-10x slower):
//   GRIDHOST_XEN_E2E_MAX   pool max N (default: the test file's; 3..8)
//   GRIDHOST_XEN_E2E_SLOW  multiplier of every wait and of the guests' boot timeout (default 1)
//   GRIDHOST_XEN_E2E_RPS   per-guest rps above which `busy` adds guests (default 0.2: one request in a guest's 5 s window is 0.2, and the CPU phase's 5 s requests never put two there)
//   GRIDHOST_XEN_E2E_RATE  requests per second per healthy guest in the rps phase (default 0.4)
// The lab's guests are tiny: a busybox shell per request on 1 emulated PV vCPU costs ~1 s of
// CPU (measured: ~0.5 rps per guest at 50% CPU), so a closed loop saturates them and then
// their own /healthz and /metrics time out. So the rps
// phase sends an open-loop rate that follows the pool's healthy size, like traffic that keeps
// growing while the pool catches up: per-guest rps stays above `busy` until max.
//   GRIDHOST_LAB_ENV       attach to a lab booted by scripts/xen-lab/boot.sh (see lab.ts; the
//                          routed test needs a lab booted with LAB_NETNS)
import type { ExecutionContext } from 'ava';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { startHaproxy, type HaproxyFixture } from '../drivers/balancer/haproxy-fixture.ts';
import { haproxyServers, templateConfig } from '../e2e/haproxy-harness.ts';
import { freePort, getJson, REPO, request, sleep, startGridhost, type GridhostProcess } from '../e2e/harness.ts';
import { bridgeIntoNetns, type NetnsBridge } from '../e2e/netns-bridge.ts';
import { type Lab, gridhostLeftovers, removeGridhostGuests, startLab, labMs, LAB_SLOW } from './lab.ts';

const POOL = 'xweb';
const TOKEN = 'xen-e2e-token';
const CFG_DIR = '/etc/xen/gridhost';
const SLOW = LAB_SLOW;
const RPS = Number(process.env.GRIDHOST_XEN_E2E_RPS ?? 0.2);
const RATE = Number(process.env.GRIDHOST_XEN_E2E_RATE ?? 0.4);
const s = labMs;
// The whole test, lab boot included, must finish within 10 minutes on our 2-core machine (the
// issue's bound; measured 6 min 14 s with nothing else running). Each phase has its own limit
// so a slow phase fails with what it was waiting for.
const LIMIT_S = 600;
// Growth from 3 to max takes ceil((max - 3) / 2) launch rounds of `busy` (+2): clone, xl
// create (one at a time per dom0), boot, health; measured 51-90 s a round.
const growS = (max: number): number => 120 * Math.ceil((max - 3) / 2) + 60;

export interface ScenarioOptions {
  /** HAProxy on the routed guest network (true), or the builtin balancer through dom0's SSH. */
  routed: boolean;
  /** Pool max when GRIDHOST_XEN_E2E_MAX does not say (3..8). */
  max: number;
}

function gridhostYaml(lab: Lab, hx?: HaproxyFixture): string {
  // Routed: dom0 is reached at its guest-network address from the namespace gridhost runs in;
  // its host key is pinned by fingerprint, whatever the address.
  const lines = [
    'dom0s:',
    '  - name: lab',
    `    address: ${lab.routed && hx ? lab.routed.dom0Address : lab.host}`,
    `    port: ${lab.routed && hx ? 22 : lab.port}`,
    `    user: ${lab.username}`,
    `    private_key_path: ${lab.privateKeyPath}`,
    `    host_key_fingerprint: ${lab.fingerprint}`,
    `    guest_network: ${hx ? 'routed' : 'ssh'}`,
  ];
  if (hx) lines.push('haproxy:', `  socket: ${hx.socket}`, '  reconcile_interval: 2s');
  return `${lines.join('\n')}\n`;
}

function policy(lab: Lab, lbPort: number, max: number, routed: boolean): string {
  const balancer = routed ? 'driver: haproxy          # backend: the pool\'s name in haproxy.cfg' : `listen: 127.0.0.1:${lbPort}`;
  return `pool: ${POOL}
min: 2
max: ${max}
guest:
  driver: xen
  template: web.xen.xl.cfg
  image: ${lab.baseImage}
  clone: copy                 # the lab's store at boot is a plain directory
  health_path: /healthz
  metrics_path: /metrics
  boot_timeout: ${Math.round(s(240) / 1000)}s
  stop_timeout: 30s
  drain_timeout: 10s
balancer:
  ${balancer}
  check:                      # each check costs a domU ~50 ms of emulated CPU and dom0 a channel
    interval: 5s${routed ? '' : '\n    timeout: 5s'}             # HAProxy: \`timeout check\` in haproxy.cfg (labHaproxy)
    rise: 1                   # gridhost already waited for /healthz before registering
    fall: 3
sampling:
  interval: 5s                # the same for /metrics (the guests' rps window is 5 s)
  window: 2m
warmup: 5s                    # a booting domU's own CPU is not load; its rps is at once. Longer, and
                              # each round's busy rule fires while the last round's guests warm up,
                              # stepping from the older guests only: +1 a round instead of +2
scale_out:
  cooldown: 2s
  # Rounds of +2 that wait for their guests (the default, add, starts more launches beside ones
  # still booting). On this one emulated dom0, clones and xl creates piled up that way slowed each
  # other from 12 s to over 2 min and hit libxl's block hotplug timeout.
  while_booting: hold
scale_in:
  cooldown: 5s
  stabilization: 10s
breaker:
  failures: 3
  open_for: 10m
rules:
  - name: hot
    strategy: threshold
    metric: cpu                 # xentop's CPU(%) of each domU
    aggregate: mean
    above: 30
    for: 2
    step: +1
  - name: busy
    strategy: threshold
    metric: rps                 # the guests' /metrics
    aggregate: mean
    above: ${RPS}
    for: 2
    step: +2
  - name: quiet
    strategy: threshold
    metric: rps
    aggregate: mean
    below: 0.1                  # no request in the guests' 5 s window
    for: 3
    step: -50%
`;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function get(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const loads = new Set<{ stop(): Promise<void> }>();

/** Closed-loop load: `n` loops sending `path` back to back through the balancer until stopped. */
function load(front: string, path: string, n: number) {
  let running = true;
  const stats = { ok: 0, failed: 0, errors: [] as string[] };
  const loops = Array.from({ length: n }, async () => {
    while (running) {
      try {
        const status = await get(`${front}${path}`, 120_000);
        if (status === 200) stats.ok++;
        else {
          stats.failed++;
          stats.errors.push(`status ${status}`);
        }
      } catch (e) {
        stats.failed++;
        stats.errors.push((e as Error).message);
      }
    }
  });
  const handle = { stats, stop: async () => { running = false; await Promise.all(loops); loads.delete(handle); } };
  loads.add(handle);
  return handle;
}

/** Open-loop load: `rate()` requests per second through the balancer until stopped. */
function paced(front: string, path: string, rate: () => number, cap: () => number) {
  let running = true;
  const stats = { ok: 0, failed: 0, errors: [] as string[] };
  const inflight = new Set<Promise<void>>();
  const loop = (async () => {
    while (running) {
      const p: Promise<void> = get(`${front}${path}`, 120_000).then(
        (status) => {
          if (status === 200) stats.ok++;
          else {
            stats.failed++;
            stats.errors.push(`status ${status}`);
          }
        },
        (e: Error) => {
          stats.failed++;
          stats.errors.push(e.message);
        },
      ).finally(() => inflight.delete(p));
      inflight.add(p);
      // Never pile up more than the pool can hold: the rate is the offered load, not a queue.
      while (running && inflight.size > 2 * cap()) await sleep(200);
      await sleep(1000 / Math.max(0.1, rate()));
    }
  })();
  const handle = { stats, stop: async () => { running = false; await loop; await Promise.all(inflight); loads.delete(handle); } };
  loads.add(handle);
  return handle;
}

async function view(gh: GridhostProcess): Promise<any> {
  return (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
}

const counted = (v: any): number => (v.counts?.cloning ?? 0) + (v.counts?.booting ?? 0) + (v.counts?.healthy ?? 0);

const leftovers = (lab: Lab): Promise<string[]> => gridhostLeftovers(lab, CFG_DIR);

/** templates/haproxy.cfg for the lab's pool, run in the lab's namespace. */
function labHaproxy(lab: Lab): Promise<HaproxyFixture> {
  return startHaproxy({
    backends: [POOL],
    netns: lab.routed!.netns,
    // The shipped file, with two changes for the emulated guests, whose dom0 (netback) is
    // saturated while it clones and creates: a /healthz takes ~50 ms of CPU idle and seconds
    // under load, past the template's 2 s check limit, and so can a TCP connect.
    config: ({ dir, socketLine, ports }) => templateConfig(POOL, dir, socketLine, ports[POOL]!)
      .replace(/^( *timeout check ).*$/m, '$15s').replace(/^( *timeout connect ).*$/m, '$110s'),
  });
}

export async function scaleScenario(t: ExecutionContext, o: ScenarioOptions): Promise<void> {
  const MAX = Math.min(8, Math.max(3, Number(process.env.GRIDHOST_XEN_E2E_MAX ?? o.max)));
  t.timeout(s(LIMIT_S));
  const t0 = Date.now();
  const marks: string[] = [];
  const mark = (what: string): void => {
    marks.push(`${what} at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    t.log(marks[marks.length - 1]);
  };
  const lab = await startLab({ log: () => undefined, ...(o.routed ? { netns: `ghxen-${process.pid}` } : {}) });
  t.teardown(() => lab.stop());
  mark(`lab up (boot ${lab.bootSeconds} s)`);
  if (o.routed && !lab.routed) throw new Error('the routed test needs a lab on a network namespace (an attached lab must be booted with LAB_NETNS)');
  t.deepEqual(await leftovers(lab), [], 'the lab starts clean');

  const hx = o.routed ? await labHaproxy(lab) : undefined;
  if (hx) t.teardown(() => hx.stop());
  const lbPort = await freePort();
  const template = readFileSync(join(REPO, 'templates', 'web.xen.xl.cfg'), 'utf8');
  const gh = await startGridhost({
    config: gridhostYaml(lab, hx),
    policies: { 'xweb.yaml': policy(lab, lbPort, MAX, o.routed) },
    templates: { 'web.xen.xl.cfg': template },
    startTimeoutMs: s(120),
    env: { GRIDHOST_API_TOKEN: TOKEN },
    ...(lab.routed && hx ? { netns: lab.routed.netns } : {}),
  });
  t.teardown(async () => {
    await Promise.all([...loads].map((l) => l.stop()));
    await gh.stop();
    // gridhost leaves guests running on purpose (the next start adopts them): remove any the
    // test left, so an attached lab is clean for the next run.
    await removeGridhostGuests(lab, CFG_DIR);
    gh.cleanup();
  });
  // On failure, the test log shows how far it got and what gridhost said: warnings, errors and
  // scale events.
  t.teardown(() => {
    t.log(`phases: ${marks.join('; ') || 'none'} (limit ${LIMIT_S * SLOW} s)`);
    const lines = gh.logs.filter((l) => l.level === 'warn' || l.level === 'error' || (l.event === 'scale' && l.outcome !== 'skipped'));
    for (const l of lines.slice(-40)) t.log(JSON.stringify({ ...l, timestamp: undefined, config: undefined }).slice(0, 600));
  });
  // Routed: clients reach HAProxy's frontend in the namespace through a byte pipe.
  let bridge: NetnsBridge | undefined;
  if (hx) {
    const [host, port] = hx.frontends[POOL]!.split(':');
    bridge = await bridgeIntoNetns(lab.routed!.netns, host!, Number(port));
    t.teardown(() => bridge!.stop());
  }
  const front = bridge ? bridge.url : `http://127.0.0.1:${lbPort}`;
  const sizes: number[] = [];
  let healthyNow = 2; // the rps phase's rate follows it
  const served = new Map<string, number>();
  const watch = async (what: string, timeoutMs: number, pred: (v: any) => boolean): Promise<any> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await view(gh);
      const n = counted(v);
      healthyNow = Math.max(2, v.counts?.healthy ?? 2);
      if (sizes[sizes.length - 1] !== n) sizes.push(n);
      for (const b of v.backends ?? []) served.set(b.id, Math.max(served.get(b.id) ?? 0, b.served));
      if (pred(v)) {
        mark(what);
        return v;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; sizes ${sizes.join(',')}; counts ${JSON.stringify(v.counts)}; last decision: ${v.lastDecision?.reason}`);
      }
      await sleep(1000);
    }
  };

  // 1. Start-up brings the pool to min: two domUs, healthy through dom0's SSH, in the balancer.
  await watch('2 healthy guests', s(150), (v) => v.counts.healthy === 2 && v.backends.filter((b: any) => b.healthy).length === 2);

  // 2. CPU: long requests, one per guest. Each burns a domU's vCPU for 5 s; rps stays at most
  //    0.2 (one request in the guest's 5 s window), below `busy`.
  const cpuLoad = load(front, '/burn?ms=5000', 2);
  await watch('first scale-out (cpu)', s(90), (v) => counted(v) >= 3);
  await cpuLoad.stop();

  // 3. Request rate: many cheap requests; `busy` grows the pool to max.
  const rpsLoad = paced(front, '/burn?ms=20', () => RATE * healthyNow, () => healthyNow);
  const atMax = await watch(`${MAX} healthy guests`, s(growS(MAX)), (v) => v.counts.healthy === MAX && v.backends.filter((b: any) => b.healthy).length === MAX);
  const peak: string[] = atMax.guests.map((g: any) => g.id);
  // Every guest of the peak gets traffic through the balancer before the load stops.
  await watch('every peak guest served', s(60), () => peak.every((id) => (served.get(id) ?? 0) > 0));
  if (hx) {
    // HAProxy itself serves exactly the peak's guests, each at its address on the guest network.
    const servers = await haproxyServers(hx, POOL);
    t.deepEqual([...servers.keys()].sort(), peak.map((id) => `gh-${id}`).sort(), JSON.stringify([...servers]));
    for (const g of atMax.guests as any[]) t.is(servers.get(`gh-${g.id}`), g.address, `HAProxy's address of ${g.id}`);
  }
  await rpsLoad.stop();

  // 4. Idle: `quiet` retires guests back to min; nothing is left of the retired ones.
  await watch('back to 2', s(150), (v) => counted(v) === 2 && v.counts.draining === 0 && v.counts.stopping === 0);
  const end = await view(gh);
  t.is(end.counts.healthy, 2);

  // Sizes: reached exactly MAX, never above it.
  t.is(Math.max(...sizes), MAX, `sizes seen: ${sizes.join(',')}`);
  t.is(cpuLoad.stats.failed, 0, `cpu phase: ${cpuLoad.stats.errors.slice(0, 5).join('; ')}`);
  t.is(rpsLoad.stats.failed, 0, `rps phase: ${rpsLoad.stats.errors.slice(0, 5).join('; ')}`);
  t.true(cpuLoad.stats.ok > 0 && rpsLoad.stats.ok > 0);

  // xentop is wired: samples carry its per-guest cpu, memory_mb and vcpus beside the guests' rps.
  const sampled = (end.samples as any[]).flatMap((x) => Object.values(x.guests ?? {})) as any[];
  t.true(sampled.some((g) => typeof g.cpu === 'number' && g.memory_mb === 128 && g.vcpus === 1 && typeof g.rps === 'number'), JSON.stringify(sampled.slice(-2)));

  // Events: first scale-out by cpu, growth to MAX by rps, back to 2; in the API, the log and /metrics.
  const events = ((await getJson(`${gh.api}/api/events?pool=${POOL}&limit=1000`)).json.events as any[]).filter((e) => e.outcome === 'done').reverse();
  const outs = events.filter((e) => e.direction === 'scale-out' && e.from >= 2);
  const ins = events.filter((e) => e.direction === 'scale-in');
  t.log(`scale events: ${events.map((e) => `${e.direction} ${e.from}->${e.to} (${e.reason})`).join(' | ')}`);
  t.true(outs.length >= 2);
  t.is(outs[0]?.from, 2);
  t.regex(outs[0]?.reason ?? '', /^scale-out 2 -> 3: cpu mean /, 'the first scale-out comes from xentop CPU');
  t.is(outs[outs.length - 1]?.to, MAX);
  t.true(outs.slice(1).some((e) => /: rps mean /.test(e.reason)), 'growth driven by rps');
  t.true(ins.length >= 1);
  t.is(ins[ins.length - 1]?.to, 2);
  for (const e of [...outs, ...ins]) {
    const line = gh.logs.find((l) => l.event === 'scale' && l.pool === POOL && l.from === e.from && l.to === e.to && l.outcome === 'done');
    t.truthy(line, `no log line for ${e.direction} ${e.from}->${e.to}`);
  }
  const metrics = (await request(`${gh.api}/metrics`)).body;
  const counter = (dir: string): number => {
    const line = metrics.split('\n').find((l) => l.startsWith('gridhost_scale_events_total{') && l.includes(`pool="${POOL}"`) && l.includes(`direction="${dir}"`) && l.includes('outcome="done"'));
    return Number(line?.split(' ').pop() ?? NaN);
  };
  t.is(counter('scale-out'), events.filter((e) => e.direction === 'scale-out').length);
  t.is(counter('scale-in'), ins.length);
  for (const action of ['clone', 'boot', 'health', 'register', 'drain', 'stop', 'delete-clone']) {
    t.true(gh.logs.some((l) => l.event === 'guest' && l.pool === POOL && l.action === action && !l.error), `no guest log line for ${action}`);
  }
  const steps = gh.logs.filter((l) => l.event === 'guest' && l.pool === POOL && typeof l.duration_ms === 'number');
  const median = (action: string): string => {
    // A transition line (clone, register) carries its step's own time as <step>_ms.
    const d = steps.filter((l) => l.action === action).map((l) => Number(l[`${action.replace(/-/g, '_')}_ms`] ?? l.duration_ms)).sort((a, b) => a - b);
    return d.length ? `${(d[Math.floor(d.length / 2)]! / 1000).toFixed(1)} s (n=${d.length})` : 'n/a';
  };
  t.log(`median per guest: clone ${median('clone')}, xl create ${median('boot')}, healthy ${median('health')}, register ${median('register')}, stop ${median('stop')}, delete-clone ${median('delete-clone')}`);
  t.log(`load: cpu phase ${cpuLoad.stats.ok} ok, rps phase ${rpsLoad.stats.ok} ok`);

  // 5. Removing the policy keeps the two guests at min running (they are adopted, not killed);
  //    retiring the pool through the API removes them with xl: then nothing is left on dom0.
  const live = end.guests.map((g: any) => g.id).sort();
  const remaining = await leftovers(lab);
  t.deepEqual(remaining.filter((l) => l.startsWith('domain ')).map((l) => l.slice('domain gh-'.length)).sort(), live, 'the only domains are the two guests at min');
  rmSync(join(gh.dir, 'policies', 'xweb.yaml'));
  await watch('pool unmanaged', s(30), (v) => v.managed === false);
  const retired = await request(`${gh.api}/api/pools/${POOL}/retire`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, timeoutMs: s(120) });
  t.is(retired.status, 200, retired.body);
  const retiredIds = (JSON.parse(retired.body).retired as string[]).sort();
  for (const id of live) t.true(retiredIds.includes(id), `${id} was not retired: ${retired.body}`);
  // Exactly the live guests: a guest retired earlier by scale-in must never be live again. (Seen
  // once in five CI runs before issue 10: a tick that listed the scale-in's victim while it was
  // stopping retried its cleanup from that old copy after the retirement had finished, writing
  // it back to `stopping`. The retry now re-reads its guests and every write is a
  // compare-and-set, which refuses a write from an old copy.)
  t.deepEqual(retiredIds, live, `retire listed ${retiredIds.join(', ')}; live were ${live.join(', ')}`);
  mark('retired');
  t.deepEqual(await leftovers(lab), [], 'no domU, rendered config or clone is left on dom0');
  if (hx) t.deepEqual([...(await haproxyServers(hx, POOL)).keys()], [], 'no gridhost server is left in HAProxy');
  mark('done');
  t.log(marks.join('; '));
}
