// The example guest (templates/images/web/server.mjs) drains on SIGTERM.
import test from 'ava';
import http from 'node:http';
import axios from 'axios';
import { waitHealthy } from '../../../src/drivers/health/http-health.ts';
import { LocalHypervisor } from '../../../src/drivers/hypervisor/local/local-hypervisor.ts';
import { HttpLoadSource } from '../../../src/drivers/metrics/http-load-source.ts';
import { guestOf, guestsDir, makePolicy, sleep, spec } from './helpers.ts';

test('on SIGTERM the example guest finishes the request in flight, then exits', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-x1', makePolicy());
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const g = guestOf(s, c, b);
  await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 15_000, intervalMs: 50 });

  const agent = new http.Agent({ keepAlive: false });
  const slow = axios.get<string>(`http://${b.address}/?ms=1500`, { httpAgent: agent, timeout: 30_000 });
  const metrics = new HttpLoadSource({ metricsPath: '/metrics' });
  for (let i = 0; i < 100 && (await metrics.sample([g])).get(g.id)?.inflight !== 1; i++) await sleep(20);

  await hv.stop(g, 20_000); // resolves once the process has exited
  const res = await slow;
  t.is(res.status, 200);
  t.is(res.data, 'web-x1 worked 1500 ms\n');
  await t.throwsAsync(axios.get(`http://${b.address}/healthz`, { httpAgent: agent, timeout: 2000 }), undefined, 'no longer accepting');
});
