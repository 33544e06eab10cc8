// mode: recommend on a real gridhost with real local guests under real HTTP load: the load
// calls for more guests, gridhost says so (log line, scale event, gridhost_recommended_guests,
// the API) and launches nothing; editing the file to act grows the pool at the next tick.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { closedLoopLoad, freePort, getJson, request, startGridhost, waitUntil } from './harness.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'rec';

function policy(lbPort: number, mode: 'act' | 'recommend'): string {
  return `
pool: ${POOL}
mode: ${mode}
min: 2
max: 4
guest:
  driver: local
  template: rec.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 5s
  drain_timeout: 10s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 30s
warmup: 0s
scale_out:
  cooldown: 1s
scale_in:
  cooldown: 60s
  stabilization: 60s
rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 8
    for: 2
    step: +1
`;
}

const TEMPLATE = webTemplate(3, { RATE_WINDOW_MS: '2000' });

test('recommend mode publishes the scale-out the load calls for and launches nothing; switching to act grows the pool at the next tick', async (t) => {
  t.timeout(180_000);
  const lbPort = await freePort();
  // Two guests are launched in act mode first (a recommending pool would not fill itself).
  const gh = await startGridhost({ policies: { 'rec.yaml': policy(lbPort, 'act') }, templates: { 'rec.local.yaml': TEMPLATE } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });
  const pool = async () => (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
  await waitUntil(async () => (await pool()).counts.healthy === 2, 60_000, 'two healthy guests');
  writeFileSync(join(gh.dir, 'policies', 'rec.yaml'), policy(lbPort, 'recommend'));
  await waitUntil(async () => (await pool()).policyMode === 'recommend', 20_000, 'the recommend policy to load');

  const load = closedLoopLoad(`http://127.0.0.1:${lbPort}/`, 6);
  // Registered after the gridhost teardown, so it runs first (a failed wait must not leave the
  // load spinning against a stopped gridhost).
  t.teardown(() => load.stop());
  const events = async () => (await getJson(`${gh.api}/api/events?pool=${POOL}`)).json.events as { direction: string; from: number; to: number; outcome: string; detail?: string }[];
  const rec = await waitUntil(async () => (await events()).find((e) => e.outcome === 'recommended'), 30_000, 'a recommended scale-out');
  t.like(rec, { direction: 'scale-out', from: 2, to: 3, detail: 'mode: recommend: nothing was launched or retired' });
  // Several more ticks under the same load: still two guests, the recommendation stands.
  const until = Date.now() + 4000;
  while (Date.now() < until) {
    const v = await pool();
    t.is(v.guests.length, 2, 'nothing launched while recommending');
    await new Promise((r) => setTimeout(r, 250));
  }
  const v = await pool();
  t.is(v.recommended, 3);
  const summary = (await getJson(`${gh.api}/api/pools`)).json.pools.find((p: { pool: string }) => p.pool === POOL);
  t.like(summary, { policyMode: 'recommend', mode: 'auto', size: 2, desired: 2, recommended: 3 });
  const metrics = (await request(`${gh.api}/metrics`)).body;
  t.regex(metrics, new RegExp(`^gridhost_recommended_guests\\{pool="${POOL}"\\} 3$`, 'm'));
  t.regex(metrics, new RegExp(`^gridhost_pool_desired_guests\\{pool="${POOL}"\\} 2$`, 'm'));
  t.true(gh.logs.some((l) => l.event === 'scale' && l.outcome === 'recommended' && String(l.msg).includes('recommended, not carried out')));
  t.is((await events()).filter((e) => e.outcome === 'recommended').length, 1, 'a standing recommendation is published once');
  // Why it did not scale (explain, the decisions API): the rules want 3, mode recommend held it.
  const [last] = (await getJson(`${gh.api}/api/pools/${POOL}/decisions?limit=1`)).json.decisions as { decided: { to: number }; hold?: { cause: string }; why: string }[];
  t.like(last, { decided: { to: 3 }, hold: { cause: 'recommend' } });
  t.regex(last!.why, /mode: recommend/);

  // Act: the next tick launches.
  writeFileSync(join(gh.dir, 'policies', 'rec.yaml'), policy(lbPort, 'act'));
  const grown = await waitUntil(async () => (await events()).find((e) => e.outcome === 'done' && e.direction === 'scale-out' && e.from === 2), 30_000, 'a scale-out once in act mode');
  t.is(grown.to, 3);
  await load.stop();
  t.is(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('\n'));
});
