// Metrics sources against the real example guest (templates/), loaded with real HTTP requests.
import test from 'ava';
import http from 'node:http';
import axios from 'axios';
import type { Guest } from '../../../src/domain/types.ts';
import { waitHealthy } from '../../../src/drivers/health/http-health.ts';
import { LocalHypervisor } from '../../../src/drivers/hypervisor/local/local-hypervisor.ts';
import { CombinedSource } from '../../../src/drivers/metrics/combined-source.ts';
import { HttpLoadSource } from '../../../src/drivers/metrics/http-load-source.ts';
import { ProcCpuSource } from '../../../src/drivers/metrics/proc-cpu-source.ts';
import { guestOf, guestsDir, makePolicy, sleep, spec } from './helpers.ts';

// % of one CPU. An idle guest uses ~0-1% (a tick or two in 2 s); a busy-looping one gets its
// full share of a core, which on a shared 2-core CI box under load average ~16 was still ~20%.
const CPU_BOUND = 8;

/** Boots the example web guest; stopped at teardown. */
async function bootWeb(t: Parameters<typeof guestsDir>[0], id: string): Promise<Guest> {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec(id, makePolicy());
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const g = guestOf(s, c, b);
  t.teardown(() => hv.stop(g, 2000));
  await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 15_000, intervalMs: 50 });
  return g;
}

// A fresh connection per request, so nothing lingers in keep-alive pools after the test.
const agent = new http.Agent({ keepAlive: false });
const get = (url: string) => axios.get(url, { httpAgent: agent, timeout: 30_000 });

test('HttpLoadSource reports the example guest\'s rps and in-flight requests', async (t) => {
  const g = await bootWeb(t, 'web-m1');
  const src = new HttpLoadSource({ metricsPath: '/metrics' });
  const idle = (await src.sample([g])).get(g.id);
  t.like(idle, { rps: 0, inflight: 0, requests_total: 0 }, 'health checks are not counted');

  for (let round = 0; round < 5; round++) await Promise.all([1, 2, 3, 4].map(() => get(`http://${g.address}/`)));
  const slow = get(`http://${g.address}/?ms=2500`);
  let busy = (await src.sample([g])).get(g.id);
  // The slow request is in flight once the guest has counted it.
  for (let i = 0; i < 40 && (busy?.requests_total ?? 0) < 21; i++) {
    await sleep(25);
    busy = (await src.sample([g])).get(g.id);
  }
  await slow;
  t.log(`busy: ${JSON.stringify(busy)}`);
  t.is(busy?.requests_total, 21);
  t.true((busy?.rps ?? 0) > 0, `rps=${busy?.rps}`);
  t.true((busy?.inflight ?? 0) >= 1, `inflight=${busy?.inflight}`);
  t.true((busy?.cpu_seconds ?? 0) > 0);
});

test('HttpLoadSource leaves out a guest that cannot be measured', async (t) => {
  const g = await bootWeb(t, 'web-m2');
  const src = new HttpLoadSource({ metricsPath: '/metrics', timeoutMs: 1000 });
  const gone: Guest = { ...g, id: 'web-gone', address: '127.0.0.1:1' };
  const noAddress: Guest = { ...g, id: 'web-noaddr', address: undefined };
  const wrongPath = new HttpLoadSource({ metricsPath: '/nope' });
  const r = await src.sample([g, gone, noAddress]);
  t.deepEqual([...r.keys()], ['web-m2']);
  t.is((await wrongPath.sample([g])).size, 0, 'a non-200 answer is not a measurement');
});

test('HttpLoadSource leaves out a guest whose metrics body is larger than the limit, and still reads the others', async (t) => {
  // A guest that streams a huge (valid) JSON body: gridhost stops reading at the limit.
  const big = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"rps": 5, "pad": "${'x'.repeat(200_000)}"}`);
  });
  const small = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"rps": 7}');
  });
  await Promise.all([big, small].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  t.teardown(() => { big.close(); small.close(); });
  const at = (s: http.Server): string => `127.0.0.1:${(s.address() as { port: number }).port}`;
  const base: Guest = { id: 'x', pool: 'web', state: 'healthy', driver: 'local', host: 'local', createdAt: 0, updatedAt: 0, meta: {} };
  const guests: Guest[] = [{ ...base, id: 'web-big', address: at(big) }, { ...base, id: 'web-small', address: at(small) }];
  const r = await new HttpLoadSource({ metricsPath: '/metrics', maxBodyBytes: 64 * 1024 }).sample(guests);
  t.deepEqual([...r.entries()], [['web-small', { rps: 7 }]]);
  const roomy = await new HttpLoadSource({ metricsPath: '/metrics', maxBodyBytes: 1024 * 1024 }).sample(guests);
  t.is(roomy.get('web-big')?.rps, 5, 'the same body is read under a larger limit');
});

test('ProcCpuSource sees a loaded guest above the bound and an idle one below it', async (t) => {
  const g = await bootWeb(t, 'web-m3');
  const cpu = new ProcCpuSource();
  const load = new HttpLoadSource({ metricsPath: '/metrics' });
  t.false((await cpu.sample([g])).has(g.id), 'first sample has no previous value');

  // Load: two concurrent requests each busy-looping for 3 s of CPU; measure once both are running.
  const busy = Promise.all([get(`http://${g.address}/?ms=3000`), get(`http://${g.address}/?ms=3000`)]);
  for (let i = 0; i < 100 && (await load.sample([g])).get(g.id)?.inflight !== 2; i++) await sleep(20);
  await cpu.sample([g]);
  await sleep(1000);
  const loaded = (await cpu.sample([g])).get(g.id)?.cpu;
  await busy;

  await cpu.sample([g]); // baseline after the load
  await sleep(2000);
  const idle = (await cpu.sample([g])).get(g.id)?.cpu;
  t.log(`cpu loaded=${loaded?.toFixed(1)}% idle=${idle?.toFixed(1)}%`);
  t.true(typeof loaded === 'number' && loaded > CPU_BOUND, `loaded cpu=${loaded}`);
  t.true(typeof idle === 'number' && idle < CPU_BOUND, `idle cpu=${idle}`);
});

test('CombinedSource gives one record per guest with cpu and the guest-reported keys', async (t) => {
  const g = await bootWeb(t, 'web-m4');
  const src = new CombinedSource([new ProcCpuSource(), new HttpLoadSource({ metricsPath: '/metrics' })]);
  await src.sample([g]);
  await get(`http://${g.address}/?ms=200`);
  const v = (await src.sample([g])).get(g.id);
  t.is(typeof v?.cpu, 'number');
  t.is(v?.requests_total, 1);
  t.is(v?.inflight, 0);
  await src.close();
});
