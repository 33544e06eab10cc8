// The haproxy balancer driver against a real HAProxy 2.6: registration only with health checks
// on, drain, removal, servers re-added after a reload, servers it did not create left alone,
// and every HAProxy-side problem blocking the pool with a message that says what to change.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaproxyBalancer, type HaproxyChange, type HaproxyBalancerOptions } from '../../../src/drivers/balancer/haproxy/haproxy-balancer.ts';
import { waitDrained } from '../../../src/drivers/balancer/wait-drained.ts';
import type { GridhostError } from '../../../src/errors/errors.ts';
import { readConfig, startHaproxy, type HaproxyFixture, type HaproxyOptions } from './haproxy-fixture.ts';
import { load, send, startBackend, waitFor, type TestBackend } from './helpers.ts';

const FAST = { check: { intervalMs: 100, rise: 1, fall: 2 } };

async function rig(t: import('ava').ExecutionContext, hxOpts: HaproxyOptions = {}, lbOpts: Partial<HaproxyBalancerOptions> = {}) {
  const hx = await startHaproxy(hxOpts);
  const events: HaproxyChange[] = [];
  const lb = new HaproxyBalancer({ socket: hx.socket, reconcileMs: 200, removeWaitMs: 500, timeoutMs: 10_000, onChange: (c) => events.push(c), ...lbOpts });
  const backends: TestBackend[] = [];
  t.teardown(async () => {
    await lb.close();
    await hx.stop();
    await Promise.all(backends.map((b) => b.kill()));
  });
  const backend = async (id: string) => {
    const b = await startBackend(id);
    backends.push(b);
    return b;
  };
  const status = async (id: string) => (await lb.list('web')).find((s) => s.id === id);
  return { hx, lb, events, backend, status };
}

/** Server names and admin states of a backend, as HAProxy reports them (independent of the driver). */
async function servers(hx: HaproxyFixture, backend = 'web') {
  return (await hx.admin.serversState(backend)).map((s) => `${s.name}${s.maint ? ':maint' : s.drain ? ':drain' : ''}`).sort();
}

test.serial('guests are registered with health checks on, take traffic, and are listed with their state', async (t) => {
  const { hx, lb, backend, status } = await rig(t);
  await lb.ensurePool('web', '', '/healthz', FAST);
  t.is(lb.blocked('web'), undefined);
  const [a, b] = [await backend('web-a'), await backend('web-b')];
  await lb.add('web', 'web-a', a.address);
  await lb.add('web', 'web-b', b.address);
  t.deepEqual(await servers(hx), ['gh-web-a', 'gh-web-b']);
  await waitFor('both checked', async () => (await hx.admin.stat('web')).every((s) => s.checkStatus === 'L7OK'));
  t.true(a.checks > 0 && b.checks > 0, 'HAProxy health-checks each guest');
  const counts = await load(40, 4, async () => (await send(hx.frontends.web!)).status);
  t.deepEqual([...counts], [[200, 40]]);
  t.true(a.hits > 5 && b.hits > 5, `both served (${a.hits}, ${b.hits})`);
  t.like(await status('web-a'), { id: 'web-a', address: a.address, admin: 'ready', healthy: true, active: 0 });
  t.true((await status('web-a'))!.served >= a.hits);
  // The serving figures are show stat's: per guest and for the backend as a whole.
  const sv = await lb.serving('web');
  t.is(sv.frontend.responses['2xx'], 40);
  t.is(sv.backends.reduce((n, x) => n + x.stats.responses['2xx'], 0), 40);
  t.like(sv.backends.find((x) => x.id === 'web-a'), { healthy: true, downs: 0, stats: { inFlight: 0, upstreamErrors: 0 } });
  const last = sv.backends.find((x) => x.id === 'web-a')?.lastCheck;
  t.is(last?.ok, true);
  // Under full-suite load show stat was seen answering L7OK with check_code empty.
  t.regex(last?.detail ?? '', /^L7OK( HTTP 200)?: Layer7 check passed$/);
  t.deepEqual({ failOpen: sv.failOpen, noBackend: sv.noBackend }, { failOpen: false, noBackend: 0 });
  // add() again with the same address changes nothing.
  await lb.add('web', 'web-a', a.address);
  t.deepEqual(await servers(hx), ['gh-web-a', 'gh-web-b']);
});

test.serial('drain: no new request reaches the guest, the one in flight finishes, then it is removed', async (t) => {
  const { hx, lb, backend, status } = await rig(t);
  await lb.ensurePool('web', '', '/healthz', FAST);
  const [a, b] = [await backend('web-a'), await backend('web-b')];
  await lb.add('web', 'web-a', a.address);
  await lb.add('web', 'web-b', b.address);
  await waitFor('both up', async () => (await lb.list('web')).every((s) => s.healthy));
  a.held = true;
  // One request at a time until one is held on a (those that go to b finish at once).
  const held: Promise<number>[] = [];
  for (let i = 0; i < 20 && a.hits === 0; i++) {
    const r = send(hx.frontends.web!).then((x) => x.status, () => 0);
    held.push(r);
    await Promise.race([r, waitFor('a hit', () => a.hits > 0, 1000).catch(() => undefined)]);
  }
  t.is(a.hits, 1);
  await lb.setDrain('web', 'web-a');
  t.like(await status('web-a'), { admin: 'drain', active: 1 });
  const hitsAtDrain = a.hits;
  const counts = await load(20, 4, async () => (await send(hx.frontends.web!)).status);
  t.deepEqual([...counts], [[200, 20]]);
  t.is(a.hits, hitsAtDrain, 'no new request reached the draining guest');
  t.deepEqual(await waitDrained(lb, 'web', 'web-a', 50, 10), { drained: false, active: 1 });
  a.release();
  t.true((await Promise.all(held)).every((status) => status === 200));
  t.deepEqual(await waitDrained(lb, 'web', 'web-a', 5000, 20), { drained: true, active: 0 });
  await lb.remove('web', 'web-a');
  t.deepEqual(await servers(hx), ['gh-web-b']);
  await lb.remove('web', 'web-a'); // idempotent
  await t.throwsAsync(lb.setDrain('web', 'web-a'), { code: 'GH_BACKEND_UNKNOWN' });
});

test.serial('a request still in flight when remove() gives up waiting is cut, and the server is deleted', async (t) => {
  const { hx, lb, backend } = await rig(t, {}, { removeWaitMs: 200 });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const a = await backend('web-a');
  await lb.add('web', 'web-a', a.address);
  await waitFor('up', async () => (await lb.list('web'))[0]?.healthy === true);
  a.held = true;
  const stuck = send(hx.frontends.web!).then((r) => r.status, () => 0);
  await waitFor('held', () => a.hits === 1);
  await lb.remove('web', 'web-a');
  t.deepEqual(await servers(hx), []);
  t.not(await stuck, 200, 'the request outliving the wait was cut');
});

test.serial('servers gridhost did not create are never touched', async (t) => {
  const { hx, lb, backend } = await rig(t, { backendLines: { web: ['server static-a 127.0.0.1:9 disabled', 'server static-b 127.0.0.1:10 disabled'] } });
  await lb.ensurePool('web', '', '/healthz', FAST);
  t.is(lb.blocked('web'), undefined);
  const a = await backend('web-a');
  await lb.add('web', 'web-a', a.address);
  t.deepEqual((await lb.list('web')).map((s) => s.id), ['web-a'], 'list() shows only gridhost\'s servers');
  await lb.setDrain('web', 'web-a');
  await lb.remove('web', 'web-a');
  await lb.removePool('web');
  t.deepEqual(await servers(hx), ['static-a:maint', 'static-b:maint']);
});

test.serial('removePool stops managing the pool and leaves its servers serving (a gridhost that lost the pool may not take the new leader\'s servers away)', async (t) => {
  const { hx, lb, backend } = await rig(t);
  await lb.ensurePool('web', '', '/healthz', FAST);
  const a = await backend('web-a');
  await lb.add('web', 'web-a', a.address);
  await waitFor('checked', async () => (await hx.admin.stat('web')).every((s) => s.checkStatus === 'L7OK'));
  await lb.removePool('web');
  t.deepEqual(await servers(hx), ['gh-web-a']);
  t.is((await send(hx.frontends.web!)).status, 200, 'HAProxy still serves the guest');
  await t.throwsAsync(lb.list('web'), { code: 'GH_BALANCER_FAILED' });
  t.is(lb.blocked('web'), undefined);
});

test.serial('an HAProxy reload drops the dynamic servers; the next reconcile adds them back, a drained one as drained', async (t) => {
  const { hx, lb, events, backend } = await rig(t, {}, { reconcileMs: 60_000, watchMs: 60_000 });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const [a, b] = [await backend('web-a'), await backend('web-b')];
  await lb.add('web', 'web-a', a.address);
  await lb.add('web', 'web-b', b.address);
  await lb.setDrain('web', 'web-b');
  await hx.reload();
  t.deepEqual(await servers(hx), [], 'the reloaded HAProxy has none of them');
  await lb.reconcileNow();
  t.deepEqual(await servers(hx), ['gh-web-a', 'gh-web-b:drain']);
  t.true(events.some((e) => e.kind === 'restarted'));
  t.deepEqual(events.find((e) => e.kind === 'readded')?.ids, ['web-a', 'web-b']);
  await waitFor('a up again', async () => (await lb.list('web')).find((s) => s.id === 'web-a')?.healthy === true);
  t.is((await send(hx.frontends.web!)).body, 'web-a');
});

test.serial('the reconcile timer re-adds lost servers within one period without being asked', async (t) => {
  const { hx, lb, backend } = await rig(t, {}, { reconcileMs: 300 });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const a = await backend('web-a');
  await lb.add('web', 'web-a', a.address);
  await hx.reload();
  await waitFor('re-added by the timer', async () => (await servers(hx)).includes('gh-web-a'), 5000);
  t.deepEqual(await servers(hx), ['gh-web-a']);
});

test.serial('a reload is noticed by the worker-PID watch long before the next full reconcile', async (t) => {
  const { hx, lb, backend } = await rig(t, {}, { reconcileMs: 60_000, watchMs: 100 });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const a = await backend('web-a');
  await lb.add('web', 'web-a', a.address);
  await hx.reload();
  await waitFor('re-added by the watch', async () => (await servers(hx)).includes('gh-web-a'), 5000);
  t.deepEqual(await servers(hx), ['gh-web-a']);
});

test.serial('a gridhost restart adopts its servers as they are: add() of a registered guest does not take it out of service', async (t) => {
  const { hx, lb, backend } = await rig(t);
  await lb.ensurePool('web', '', '/healthz', FAST);
  const a = await backend('web-a');
  await lb.add('web', 'web-a', a.address);
  await waitFor('up', async () => (await lb.list('web'))[0]?.healthy === true);
  for (let i = 0; i < 5; i++) await send(hx.frontends.web!);
  await lb.close();
  t.is((await send(hx.frontends.web!)).status, 200, 'HAProxy serves on while gridhost is away');
  const before = (await hx.admin.stat('web')).find((s) => s.name === 'gh-web-a')!.stot;
  const again = new HaproxyBalancer({ socket: hx.socket, reconcileMs: 200 });
  t.teardown(() => again.close());
  await again.ensurePool('web', '', '/healthz', FAST);
  await again.add('web', 'web-a', a.address);
  const after = (await hx.admin.stat('web')).find((s) => s.name === 'gh-web-a')!;
  t.true(after.stot >= before, 'the same server (its counters kept), not a new one');
  t.regex(after.status, /^UP/, 'still in service (never put in maintenance)');
  t.deepEqual(await servers(hx), ['gh-web-a']);
});

test.serial('a server named like a guest but at another address is not gridhost\'s: add() fails naming the pool, remove() leaves it', async (t) => {
  const { hx, lb, backend } = await rig(t, { backendLines: { web: ['server gh-web-taken 127.0.0.1:9'] } });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const a = await backend('web-taken');
  const e = await t.throwsAsync(lb.add('web', 'web-taken', a.address), { code: 'GH_HAPROXY_SERVER_EXISTS' });
  t.regex(e!.message, /^pool web: .*gh-web-taken at 127\.0\.0\.1:9.*rename that server in haproxy\.cfg/);
  await lb.remove('web', 'web-taken');
  t.deepEqual(await servers(hx), ['gh-web-taken']);
});

test.serial('a guest reachable only through its dom0 cannot be given to HAProxy', async (t) => {
  const { lb } = await rig(t);
  await lb.ensurePool('web', '', '/healthz', FAST);
  await t.throwsAsync(lb.add('web', 'web-a', '10.0.0.5:80', 'dom0-a'), { code: 'GH_BALANCER_FAILED', message: /pool web: guest web-a is reachable only through dom0-a's SSH connection.*guest_network: routed/ });
  t.like(lb.blocked('web'), { code: 'GH_BALANCER_FAILED' }, 'the pool is blocked: its next guests would be unreachable too');
  await lb.reconcileNow();
  t.like(lb.blocked('web'), { code: 'GH_BALANCER_FAILED' }, 'and stays blocked: only a configuration change fixes it');
});

test.serial('two pools cannot share one backend', async (t) => {
  const { lb } = await rig(t);
  await lb.ensurePool('web', '', '/healthz', FAST);
  await t.throwsAsync(lb.ensurePool('api', '', '/healthz', { ...FAST, backend: 'web' }), { code: 'GH_BALANCER_FAILED', message: /pool api: HAProxy backend "web" already serves pool web/ });
});

test.serial('close() leaves HAProxy serving; a TCP-only health check is reported', async (t) => {
  const { hx, lb, events, backend } = await rig(t, { config: ({ dir, socketLine, ports }) => `
global
    ${socketLine}
    stats socket ${dir}/admin-for-tests.sock mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend fe_web
    bind 127.0.0.1:${ports.web}
    default_backend web
backend web
` });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const a = await backend('web-a');
  await lb.add('web', 'web-a', a.address);
  await waitFor('TCP-only check reported', () => events.some((e) => e.kind === 'tcp-check-only'), 5000);
  t.regex(events.find((e) => e.kind === 'tcp-check-only')!.detail!, /option httpchk/);
  await lb.close();
  t.is((await send(hx.frontends.web!)).status, 200);
});

// ---- HAProxy-side problems block the pool, with the fix; a later reconcile lifts the block.

function blockedOf(lb: HaproxyBalancer): GridhostError {
  const e = lb.blocked('web');
  if (!e) throw new Error('pool web is not blocked');
  return e;
}

test.serial('blocked: a socket nobody listens on; lifted once HAProxy is there, and a guest adopted meanwhile is registered then', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-haproxy-later-'));
  const socket = join(dir, 'later.sock');
  const events: HaproxyChange[] = [];
  const lb = new HaproxyBalancer({ socket, reconcileMs: 100, onChange: (c) => events.push(c) });
  const a = await startBackend('web-a');
  let hx: HaproxyFixture | undefined;
  t.teardown(async () => {
    await lb.close();
    await hx?.stop();
    await a.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const e = blockedOf(lb);
  t.is(e.code, 'GH_HAPROXY_UNREACHABLE');
  t.regex(e.message, /^pool web: cannot reach HAProxy's stats socket .*later\.sock: no such socket.*haproxy\.cfg's global section must open it \(`stats socket .*later\.sock mode 660 level admin`\)/);
  await t.throwsAsync(lb.add('web', 'web-a', a.address), { code: 'GH_HAPROXY_UNREACHABLE' });
  hx = await startHaproxy({ socketPath: socket });
  await waitFor('unblocked', () => lb.blocked('web') === undefined, 5000);
  await waitFor('the adopted guest registered', async () => (await servers(hx!)).includes('gh-web-a'), 5000);
  t.true(events.some((x) => x.kind === 'unblocked'));
  t.is((await send(hx.frontends.web!)).body, 'web-a');
});

test.serial('blocked: a socket below admin level names the haproxy.cfg line to change', async (t) => {
  const { lb } = await rig(t, { level: 'operator' });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const e = blockedOf(lb);
  t.is(e.code, 'GH_HAPROXY_NOT_ADMIN');
  t.regex(e.message, /^pool web: HAProxy's stats socket .* is at level "operator".*`level admin` on that `stats socket` line of haproxy\.cfg/);
  await t.throwsAsync(lb.add('web', 'web-a', '127.0.0.1:9'), { code: 'GH_HAPROXY_NOT_ADMIN' });
});

test.serial('blocked: a backend haproxy.cfg lacks; lifted by a reload that adds it, and the waiting guest is registered', async (t) => {
  const { hx, lb, events, backend } = await rig(t, { backends: ['other'] });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const e = blockedOf(lb);
  t.is(e.code, 'GH_HAPROXY_UNKNOWN_BACKEND');
  t.regex(e.message, /^pool web: HAProxy has no backend "web".*add `backend web`/);
  t.true(events.some((x) => x.kind === 'blocked' && x.pool === 'web'));
  hx.writeConfig(`${readConfig(hx)}\nbackend web\n    option httpchk GET /healthz\n`);
  await hx.reload();
  await lb.reconcileNow();
  t.is(lb.blocked('web'), undefined);
  t.true(events.some((x) => x.kind === 'unblocked' && x.pool === 'web'));
  const a = await backend('web-a');
  await lb.add('web', 'web-a', a.address);
  t.deepEqual(await servers(hx), ['gh-web-a']);
});

test.serial('blocked: a server carrying gridhost\'s prefix that is not one of the pool\'s guests', async (t) => {
  const { hx, lb } = await rig(t, { backendLines: { web: ['server gh-1 127.0.0.1:9'] } });
  await lb.ensurePool('web', '', '/healthz', FAST);
  const e = blockedOf(lb);
  t.is(e.code, 'GH_HAPROXY_SERVER_EXISTS');
  t.regex(e.message, /^pool web: backend "web" holds gh-1.*gridhost did not create it, and server names starting with "gh-" are gridhost's/);
  t.deepEqual(await servers(hx), ['gh-1'], 'and it is left as it is');
});
