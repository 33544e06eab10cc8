// Lifecycle hooks on a real gridhost with real local guests under real HTTP load: the shipped
// example before_register hook (templates/hooks/warm-up.mjs, a command) warms each new guest
// before it gets traffic; before_retire calls a "monitoring system" (an HTTP server of this
// test) before a guest is drained. When that call fails and on_failure is abandon the guest
// stays in service; once it answers again the scale-in goes through. Every run is in the
// guest's history with its outcome and duration, and no request fails.
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { REPO, closedLoopLoad, freePort, getJson, request, startGridhost, waitUntil, type GridhostProcess } from './harness.ts';
import { webTemplate } from './web-template.ts';

const POOL = 'hooks';

function policy(lbPort: number, monitor: string, size: number): string {
  return `
pool: ${POOL}
min: ${size}
max: ${size}
guest:
  driver: local
  template: hooks.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 5s
  drain_timeout: 10s
balancer:
  listen: 127.0.0.1:${lbPort}
  check: { interval: 200ms, rise: 1 }
sampling:
  interval: 500ms
  window: 30s
warmup: 0s
scale_in:
  cooldown: 1s
  stabilization: 0s
hooks:
  before_register:
    command: ["node", "hooks/warm-up.mjs", "{{address}}", "/", "/?ms=5"]
    timeout: 10s
    on_failure: abandon
  before_retire:
    http:
      url: ${monitor}/api/hosts/{{guest}}/disable?pool={{pool}}
      headers: { X-Source: gridhost }
    timeout: 5s
    on_failure: abandon
rules:
  - name: never
    strategy: threshold
    metric: rps
    above: 100000
    step: +1
`;
}

const TEMPLATE = webTemplate(2);

interface HistoryEntry { at: string; action: string; outcome: string; durationMs: number; detail?: string }
interface GuestView { id: string; state: string; history: HistoryEntry[] }

async function guest(gh: GridhostProcess, id: string): Promise<GuestView> {
  return (await getJson(`${gh.api}/api/pools/${POOL}/guests/${id}`)).json as GuestView;
}

async function live(gh: GridhostProcess): Promise<{ id: string; state: string }[]> {
  return (await getJson(`${gh.api}/api/pools/${POOL}`)).json.guests;
}

test('before_register warms each guest before it serves; before_retire calls the monitor first, and a failing call keeps the guest; 0 failed requests', async (t) => {
  t.timeout(180_000);
  // The "monitoring system": records each call, and refuses while `refuse` is set.
  const calls: { method: string; url: string; source?: string; body: any }[] = [];
  let refuse = true;
  const monitor = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      calls.push({ method: req.method!, url: req.url!, source: req.headers['x-source'] as string | undefined, body: JSON.parse(body) });
      res.writeHead(refuse ? 503 : 204).end();
    });
  });
  await new Promise<void>((r) => monitor.listen(0, '127.0.0.1', r));
  t.teardown(() => monitor.close());
  const monitorUrl = `http://127.0.0.1:${(monitor.address() as AddressInfo).port}`;

  // A workspace with the shipped example hook where the policy expects it (templates/hooks/).
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-e2e-hooks-'));
  mkdirSync(join(dir, 'templates'), { recursive: true });
  cpSync(join(REPO, 'templates', 'hooks'), join(dir, 'templates', 'hooks'), { recursive: true });
  const lbPort = await freePort();
  const gh = await startGridhost({ dir, policies: { 'hooks.yaml': policy(lbPort, monitorUrl, 2) }, templates: { 'hooks.local.yaml': TEMPLATE } });
  t.teardown(async () => {
    await gh.stop();
    gh.cleanup();
  });

  const two = await waitUntil(async () => {
    const gs = await live(gh);
    return gs.length === 2 && gs.every((g) => g.state === 'healthy') ? gs : undefined;
  }, 60_000, 'two healthy guests');
  const load = closedLoopLoad(`http://127.0.0.1:${lbPort}/`, 4);
  // Runs before the teardowns above (ava runs them last first): a failed wait leaves no load spinning.
  t.teardown(() => load.stop());

  // Each guest ran the warm-up before it was registered, successfully, and says how long it took.
  const timings: number[] = [];
  for (const g of two) {
    const h = (await guest(gh, g.id)).history;
    const actions = h.map((e) => e.action);
    t.deepEqual(actions.slice(actions.indexOf('health')), ['health', 'before_register', 'register'], g.id);
    const hook = h.find((e) => e.action === 'before_register')!;
    t.is(hook.outcome, 'ok');
    t.is(hook.detail, 'command: exit 0');
    t.true(hook.durationMs > 0 && hook.durationMs < 10_000, String(hook.durationMs));
    timings.push(hook.durationMs);
  }
  // The example hook's requests reached the guest itself (they are counted in its own metrics).
  const addr = (await getJson(`${gh.api}/api/pools/${POOL}`)).json.guests[0].address as string;
  t.true(JSON.parse((await request(`http://${addr}/metrics`)).body).requests_total >= 2);

  // 2 -> 1 while the monitor refuses: before_retire fails, on_failure abandon keeps the guest.
  writeFileSync(join(dir, 'policies', 'hooks.yaml'), policy(lbPort, monitorUrl, 1));
  await waitUntil(() => calls.length >= 1, 30_000, 'the before_retire call');
  const victim = calls[0]!.body.guest.id as string;
  t.deepEqual(calls[0]!.body, { hook: 'before_retire', guest: { id: victim, pool: POOL, address: calls[0]!.body.guest.address, host: 'localhost' } });
  t.is(calls[0]!.url, `/api/hosts/${victim}/disable?pool=${POOL}`);
  t.is(calls[0]!.source, 'gridhost');
  const abandoned = await waitUntil(async () => {
    const g = await guest(gh, victim);
    return g.state === 'healthy' && g.history.some((e) => e.action === 'before_retire' && e.outcome === 'abandoned') ? g : undefined;
  }, 20_000, 'the retirement to be abandoned');
  t.like(abandoned.history.find((e) => e.action === 'before_retire'), { outcome: 'abandoned', detail: 'http: HTTP 503' });
  t.false(abandoned.history.some((e) => e.action === 'drain'), 'an abandoned retirement never drains');

  // The monitor answers again: the next scale-in (after the cooldown) goes through.
  refuse = false;
  const one = await waitUntil(async () => {
    const gs = await live(gh);
    return gs.length === 1 && gs[0]!.state === 'healthy' ? gs : undefined;
  }, 60_000, 'the pool to shrink to one guest');
  const retired = calls.at(-1)!.body.guest.id as string;
  t.not(one[0]!.id, retired);
  const gone = await guest(gh, retired);
  t.is(gone.state, 'gone');
  const tail = gone.history.map((e) => `${e.action}:${e.outcome}`).slice(-6);
  t.deepEqual(tail, ['before_retire:ok', 'drain:ok', 'deregister:ok', 'stop:ok', 'delete-clone:ok', 'retired:ok']);

  await load.stop();
  t.is(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('\n'));
  t.true(load.stats.ok > 50);
  // Hook runs are in the log and in the metrics.
  t.true(gh.logs.some((l) => l.event === 'guest' && l.action === 'before_retire' && l.outcome === 'abandoned' && l.level === 'warn'));
  const metrics = (await request(`${gh.api}/metrics`)).body;
  t.regex(metrics, new RegExp(`gridhost_hook_duration_seconds_count\\{[^}]*hook="before_register"[^}]*outcome="ok"[^}]*\\} 2`));
  t.regex(metrics, new RegExp(`gridhost_hook_duration_seconds_count\\{[^}]*hook="before_retire"[^}]*outcome="abandoned"[^}]*\\} [1-9]`));
  t.log(`before_register (warm-up.mjs, 2 requests) took ${timings.join(', ')} ms`);
});
