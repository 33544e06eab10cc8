// gridhost with `balancer.driver: haproxy` end to end: a real gridhost process, real local
// guests and a real HAProxy run from templates/haproxy.cfg. Its guests are registered there,
// HAProxy serves them, and what haproxy.cfg lacks blocks the pool instead of launching guests
// nobody could reach.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, getJson, REPO, request, startGridhost, waitUntil, type GridhostProcess } from './harness.ts';
import { haproxyGridhostYaml, haproxyPoolPolicy, haproxyServers, startTemplateHaproxy } from './haproxy-harness.ts';
import { readConfig, type HaproxyFixture } from '../drivers/balancer/haproxy-fixture.ts';
import { webTemplate } from './web-template.ts';

const TEMPLATE = webTemplate(1);

test('templates/haproxy.cfg as shipped passes haproxy -c', (t) => {
  const out = execFileSync('haproxy', ['-c', '-f', join(REPO, 'templates', 'haproxy.cfg')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.regex(out, /Configuration file is valid/);
});

function rig(t: import('ava').ExecutionContext) {
  const made: { gh?: GridhostProcess; hx?: HaproxyFixture } = {};
  t.teardown(async () => {
    await made.gh?.stop();
    made.gh?.cleanup();
    await made.hx?.stop();
  });
  return made;
}

test('guests are registered in a real HAProxy run from templates/haproxy.cfg, and HAProxy serves them', async (t) => {
  t.timeout(120_000);
  const made = rig(t);
  const hx = (made.hx = await startTemplateHaproxy('hx'));
  const gh = (made.gh = await startGridhost({ policies: { 'hx.yaml': haproxyPoolPolicy('hx') }, templates: { 'hx.local.yaml': TEMPLATE }, config: haproxyGridhostYaml(hx) }));
  const view = await waitUntil(async () => {
    const v = (await getJson(`${gh.api}/api/pools/hx`)).json;
    return v.counts?.healthy === 2 ? v : undefined;
  }, 60_000, 'two healthy guests');
  const ids: string[] = view.guests.map((g: { id: string }) => g.id).sort();
  const servers = await haproxyServers(hx, 'hx');
  t.deepEqual([...servers.keys()].sort(), ids.map((id) => `gh-${id}`));
  for (const g of view.guests as Array<{ id: string; address: string }>) t.is(servers.get(`gh-${g.id}`), g.address);
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const r = await request(`http://${hx.frontends.hx}/`);
    t.is(r.status, 200);
    seen.add(r.body);
  }
  t.is(seen.size, 2, `both guests answered through HAProxy: ${[...seen].join(', ')}`);
  t.is(view.blocked, undefined);
  t.deepEqual(view.backends.map((b: { id: string }) => b.id).sort(), ids, 'the API lists HAProxy\'s view of the backends');
});

test('a pool whose backend haproxy.cfg lacks is blocked: no guest is launched, the API, the log and a metric say why; a reload that adds it lets the pool grow', async (t) => {
  t.timeout(120_000);
  const made = rig(t);
  const hx = (made.hx = await startTemplateHaproxy('other'));
  const gh = (made.gh = await startGridhost({ policies: { 'hx.yaml': haproxyPoolPolicy('hx') }, templates: { 'hx.local.yaml': TEMPLATE }, config: haproxyGridhostYaml(hx) }));
  const blocked = await waitUntil(async () => (await getJson(`${gh.api}/api/pools/hx`)).json.blocked, 20_000, 'the pool reported blocked');
  t.is(blocked.code, 'GH_HAPROXY_UNKNOWN_BACKEND');
  t.regex(blocked.message, /^pool hx: HAProxy has no backend "hx".*add `backend hx`.*haproxy\.cfg/);
  const summary = (await getJson(`${gh.api}/api/pools`)).json;
  t.is((summary.pools ?? summary).find((p: { pool: string }) => p.pool === 'hx')?.blocked?.code, 'GH_HAPROXY_UNKNOWN_BACKEND');
  t.regex((await request(`${gh.api}/metrics`)).body, /gridhost_pool_blocked\{pool="hx"\} 1/);
  t.true(gh.logs.some((l) => l.event === 'blocked' && l.level === 'error' && l.pool === 'hx'), 'an error log line says the pool is blocked');
  // Several ticks later still nothing was cloned.
  await new Promise((r) => setTimeout(r, 2000));
  const clones = (() => {
    try {
      return readdirSync(join(gh.dir, 'data', 'guests', 'hx'));
    } catch {
      return [];
    }
  })();
  t.deepEqual(clones, [], 'no guest was cloned for a pool HAProxy cannot serve');

  hx.writeConfig(`${readConfig(hx)}\nfrontend hx\n    bind 127.0.0.1:${await freePort()}\n    default_backend hx\nbackend hx\n    option httpchk GET /healthz\n`);
  await hx.reload();
  await waitUntil(async () => (await getJson(`${gh.api}/api/pools/hx`)).json.counts?.healthy === 2, 60_000, 'two healthy guests once unblocked');
  t.regex((await request(`${gh.api}/metrics`)).body, /gridhost_pool_blocked\{pool="hx"\} 0/);
  t.is((await haproxyServers(hx, 'hx')).size, 2);
});
