// scale_in.victims on a real gridhost with real local guests under real HTTP load: a guest the
// balancer's check fails is retired first whatever the order, then the order decides (oldest
// here), and no request fails on the way.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { closedLoopLoad, freePort, getJson, startGridhost, waitUntil, type GridhostProcess } from './harness.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'victims';

function policy(lbPort: number, size: number): string {
  return `
pool: ${POOL}
min: ${size}
max: ${size}
guest:
  driver: local
  template: victims.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 5s
  drain_timeout: 10s
balancer:
  listen: 127.0.0.1:${lbPort}
  check: { interval: 200ms, fall: 2, rise: 1 }
sampling:
  interval: 500ms
  window: 30s
warmup: 0s
scale_in:
  cooldown: 0s
  stabilization: 0s
  victims: oldest
# The order of victims is the subject: auto-heal would replace the guest failing its check
# before the scale-in came (after (fall + 1) x interval), racing the test.
auto_heal:
  enabled: false
rules:
  - name: never
    strategy: threshold
    metric: rps
    above: 100000
    step: +1
`;
}

const TEMPLATE = webTemplate(2);

interface GuestView { id: string; state: string; createdAt: string }

async function healthyGuests(gh: GridhostProcess): Promise<GuestView[]> {
  const v = (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
  return (v.guests as GuestView[]).filter((g) => g.state === 'healthy');
}

/** Waits until the pool is exactly `n` healthy guests with nothing in flight; returns them. */
async function settledAt(gh: GridhostProcess, n: number, timeoutMs: number): Promise<GuestView[]> {
  return waitUntil(async () => {
    const v = (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
    const all = v.guests as GuestView[];
    return all.length === n && all.every((g) => g.state === 'healthy') ? all : undefined;
  }, timeoutMs, `${n} healthy guests and nothing else`);
}

test('scale-in retires a guest failing its balancer check first, then the oldest (victims: oldest), with no failed request', async (t) => {
  t.timeout(180_000);
  const lbPort = await freePort();
  const gh = await startGridhost({ policies: { 'victims.yaml': policy(lbPort, 3) }, templates: { 'victims.local.yaml': TEMPLATE } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  const three = await settledAt(gh, 3, 60_000);
  const byAge = [...three].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : 1));
  const load = closedLoopLoad(`http://127.0.0.1:${lbPort}/`, 4);

  // The middle-aged guest (neither order alone would pick it first) starts failing its health
  // check (the example guest answers 503 while a file `unhealthy` is in its directory): the
  // balancer takes it out of rotation.
  const sick = byAge[1]!.id;
  writeFileSync(join(gh.dir, 'data', 'guests', POOL, sick, 'unhealthy'), '');
  await waitUntil(async () => {
    const v = (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
    return (v.backends as { id: string; healthy: boolean }[]).some((b) => b.id === sick && !b.healthy);
  }, 20_000, 'the balancer to see the sick guest fail');

  // 3 -> 2: the sick guest goes, although `oldest` alone would pick byAge[0].
  writeFileSync(join(gh.dir, 'policies', 'victims.yaml'), policy(lbPort, 2));
  const two = await settledAt(gh, 2, 60_000);
  t.deepEqual(two.map((g) => g.id).sort(), [byAge[0]!.id, byAge[2]!.id].sort(), 'the guest failing its check was retired first');

  // 2 -> 1: now the order decides: the oldest goes (newest would keep it).
  writeFileSync(join(gh.dir, 'policies', 'victims.yaml'), policy(lbPort, 1));
  const one = await settledAt(gh, 1, 60_000);
  t.deepEqual(one.map((g) => g.id), [byAge[2]!.id], 'the oldest guest was retired');

  await load.stop();
  t.is(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('\n'));
  t.true(load.stats.ok > 50, `${load.stats.ok} requests served`);
  // The retirements are recorded with the guests they retired.
  const events = (await getJson(`${gh.api}/api/events?pool=${POOL}`)).json.events as { direction: string; outcome: string; detail?: string }[];
  const ins = events.filter((e) => e.direction === 'scale-in' && e.outcome === 'done').map((e) => e.detail).reverse();
  t.deepEqual(ins, [`retired ${sick}`, `retired ${byAge[0]!.id}`]);
  t.is((await healthyGuests(gh)).length, 1);
});
