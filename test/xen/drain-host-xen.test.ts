// drain-host on real Xen (issue 14, host evacuation): two Xen labs, each its own QEMU with its
// own dom0, are the pool's two hosts (the SSH-channel topology: the builtin balancer reaches each
// domU through its dom0). Placement spreads the pool's 2 guests over both; `POST /api/hosts/
// lab-a/drain` must move lab-a's guest to lab-b without the pool ever having fewer than 2
// healthy guests or a request failing. Both dom0s name one storage group, so the move first
// tries a live migration: the labs share no storage and their dom0s cannot reach each other (nor
// run ssh), so the real `xl migrate` fails and the guest must be replaced instead
// (replace-then-retire), which the event says. Then lab-a holds nothing of gridhost's and
// lab-b exactly the live guests; undrain opens lab-a again.
//
// Attach to labs booted with scripts/xen-lab/boot.sh: GRIDHOST_LAB_ENV and GRIDHOST_LAB_ENV2.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, getJson, REPO, request, sleep, startGridhost, waitUntil, type GridhostProcess } from '../e2e/harness.ts';
import { type Lab, gridhostLeftovers, leftoversOf, removeGridhostGuests, startLab, labMs } from './lab.ts';

const POOL = 'xdr';
const TOKEN = 'drain-host-test-token-5d1e';
const s = labMs;

let a: Lab;
let b: Lab;
test.before(async () => {
  // One after the other: two emulated boots at once on 2 host cores starve each other.
  a = await startLab({ log: () => undefined });
  b = await startLab({ log: () => undefined, attachVar: 'GRIDHOST_LAB_ENV2' });
});
test.after.always(async () => {
  await a?.stop();
  await b?.stop();
});

function config(): string {
  const dom0 = (name: string, lab: Lab) => `  - name: ${name}
    address: ${lab.host}
    port: ${lab.port}
    private_key_path: ${lab.privateKeyPath}
    host_key_fingerprint: ${lab.fingerprint}
    storage: lab
    migrate_to: ${name}.invalid
`;
  return `dom0s:\n${dom0('lab-a', a)}${dom0('lab-b', b)}`;
}

function policy(lbPort: number): string {
  return `pool: ${POOL}
min: 2
max: 3
guest:
  driver: xen
  template: web.xen.xl.cfg
  image: ${a.baseImage}
  clone: copy
  boot_timeout: ${Math.round(s(180) / 1000)}s
  stop_timeout: 30s
  drain_timeout: 10s
balancer:
  listen: 127.0.0.1:${lbPort}
  check:
    interval: 5s
    rise: 1
    fall: 3
sampling:
  interval: 3s
rules:
  - name: quiet                 # no real load: the pool stays at min
    strategy: threshold
    metric: rps
    below: 1000
    for: 1
    step: -1
`;
}

/** One request every `everyMs` until stopped, each allowed 60 s. */
function paced(url: string, everyMs: number) {
  let running = true;
  const stats = { ok: 0, failed: 0, errors: [] as string[], slowestMs: 0 };
  const inflight = new Set<Promise<void>>();
  const loop = (async () => {
    while (running) {
      const t0 = Date.now();
      const p: Promise<void> = request(url, { timeoutMs: 60_000 }).then(
        (r) => { if (r.status === 200) stats.ok++; else { stats.failed++; stats.errors.push(`${r.status} ${r.body.slice(0, 200)}`); } },
        (e) => { stats.failed++; stats.errors.push(String(e)); },
      ).finally(() => { stats.slowestMs = Math.max(stats.slowestMs, Date.now() - t0); inflight.delete(p); });
      inflight.add(p);
      await sleep(everyMs);
    }
  })();
  return { stats, stop: async () => { running = false; await loop; await Promise.all(inflight); } };
}

const view = async (gh: GridhostProcess): Promise<any> => (await getJson(`${gh.api}/api/pools/${POOL}`)).json;
const post = (gh: GridhostProcess, path: string, body: object) =>
  fetch(`${gh.api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });

test.serial('drain-host moves a guest off a real dom0 to the other one, never below the pool\'s size, and the failed live migration falls back to replace-then-retire', async (t) => {
  t.timeout(s(1500));
  t.deepEqual(await gridhostLeftovers(a), [], 'lab a starts clean');
  t.deepEqual(await gridhostLeftovers(b), [], 'lab b starts clean');
  const lbPort = await freePort();
  const template = readFileSync(join(REPO, 'templates', 'web.xen.xl.cfg'), 'utf8');
  const gh = await startGridhost({
    config: config(), policies: { [`${POOL}.yaml`]: policy(lbPort) }, templates: { 'web.xen.xl.cfg': template },
    env: { GRIDHOST_API_TOKEN: TOKEN }, startTimeoutMs: s(120),
  });
  t.teardown(async () => {
    await gh.stop('SIGKILL');
    await removeGridhostGuests(a);
    await removeGridhostGuests(b);
    gh.cleanup();
  });
  const t0 = Date.now();
  const two = await waitUntil(async () => {
    const v = await view(gh);
    const healthy = (v?.guests ?? []).filter((g: any) => g.state === 'healthy' && g.backend?.healthy);
    return healthy.length === 2 && (v.counts.cloning ?? 0) + (v.counts.booting ?? 0) === 0 ? v : undefined;
  }, s(420), 'two healthy guests', 1000);
  t.log(`2 healthy guests at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const onA = two.guests.filter((g: any) => g.host === 'lab-a').map((g: any) => g.id);
  t.deepEqual(two.guests.map((g: any) => g.host).sort(), ['lab-a', 'lab-b'], 'placement spread the pool over both dom0s');

  // Requests through the pool's front end the whole time, two a second; the healthy count
  // sampled as it goes. Under emulation a dom0 creating a domain stalls its SSH channel for tens
  // of seconds (the SSH-channel topology's data path): a request may wait up to 60 s, but none
  // may fail.
  const load = paced(`http://127.0.0.1:${lbPort}/?ms=5`, 500);
  let fewest = 2;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const v = await view(gh).catch(() => undefined);
      if (v?.guests) fewest = Math.min(fewest, v.guests.filter((g: any) => g.state === 'healthy' && g.backend?.healthy).length);
      await sleep(500);
    }
  })();
  const d0 = Date.now();
  const drained = await post(gh, '/api/hosts/lab-a/drain', { reason: 'lab test', by: 'ava' });
  t.is(drained.status, 200);
  t.like((await drained.json()).host, { host: 'lab-a', state: 'draining' });
  const empty = await waitUntil(async () => {
    const h = (await getJson(`${gh.api}/api/hosts/lab-a`)).json;
    return h.state === 'drained' ? h : undefined;
  }, s(600), 'lab-a drained', 1000);
  const movedS = (Date.now() - d0) / 1000;
  sampling = false;
  await sampler;
  await load.stop();
  t.log(`lab-a empty ${movedS.toFixed(0)} s after drain-host; fewest healthy guests meanwhile: ${fewest}; requests ${load.stats.ok} ok, ${load.stats.failed} failed, slowest ${(load.stats.slowestMs / 1000).toFixed(1)} s`);
  t.deepEqual(empty.guests, []);
  t.true(fewest >= 2, `the pool had ${fewest} healthy guest(s) at some point`);
  t.is(load.stats.failed, 0, load.stats.errors.slice(0, 5).join('; '));
  t.true(load.stats.ok > 0);

  const v = await waitUntil(async () => {
    const x = await view(gh);
    return x.guests.filter((g: any) => g.state === 'healthy').length === 2 && x.guests.every((g: any) => g.state === 'healthy') ? x : undefined;
  }, s(120), 'the pool settled at 2 healthy guests');
  t.true(v.guests.every((g: any) => g.host === 'lab-b'), JSON.stringify(v.guests.map((g: any) => [g.id, g.host])));
  t.false(v.guests.some((g: any) => onA.includes(g.id)), 'lab-a\'s guest was retired');
  const events = (await getJson(`${gh.api}/api/events?pool=${POOL}`)).json.events;
  const move = events.find((e: any) => e.direction === 'replace' && e.outcome === 'done');
  t.regex(move?.reason ?? '', /host lab-a is drained \(lab test, by ava\)/);
  t.regex(move?.detail ?? '', /live migration failed \(.*xl migrate .* failed.*\); replaced .* on lab-a by .* on lab-b/);
  t.log(`event: ${move?.detail}`);

  // Nothing of gridhost's on lab-a; exactly the live guests on lab-b.
  await sleep(s(5));
  t.deepEqual(await gridhostLeftovers(a), []);
  t.deepEqual(await gridhostLeftovers(b), leftoversOf(v.guests.map((g: any) => g.id).sort()));

  const opened = await post(gh, '/api/hosts/lab-a/undrain', { by: 'ava' });
  t.is(opened.status, 200);
  t.like((await opened.json()).host, { host: 'lab-a', state: 'open' });
});
