// Health helpers against a real HTTP server on the loopback.
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkHealth, waitHealthy } from '../../../src/drivers/health/http-health.ts';
import { GridhostError } from '../../../src/errors/errors.ts';

/** A server whose /healthz answers `status()`; closed at teardown. */
async function server(t: { teardown(fn: () => Promise<void>): void }, status: () => number): Promise<string> {
  const srv = http.createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status() : 404;
    res.end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}/healthz`;
}

for (const [status, healthy] of [
  [200, true],
  [204, true],
  [301, false],
  [404, false],
  [503, false],
] as const) {
  test(`checkHealth treats ${status} as ${healthy ? 'healthy' : 'not healthy'}`, async (t) => {
    t.is(await checkHealth(await server(t, () => status), 2000), healthy);
  });
}

test('checkHealth is false (not a rejection) when nothing listens', async (t) => {
  const url = await server(t, () => 200);
  const closed = url.replace(/:\d+\//, ':1/');
  t.false(await checkHealth(closed, 2000));
});

test('waitHealthy resolves once the guest starts answering 200', async (t) => {
  let calls = 0;
  const url = await server(t, () => (++calls >= 3 ? 200 : 503));
  await waitHealthy(url, { timeoutMs: 10_000, intervalMs: 10 });
  t.is(calls, 3);
});

test('waitHealthy rejects with GH_HEALTH_TIMEOUT when the guest never becomes healthy', async (t) => {
  const url = await server(t, () => 503);
  const e = await t.throwsAsync(waitHealthy(url, { timeoutMs: 300, intervalMs: 20 }), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_HEALTH_TIMEOUT');
  t.true((e?.details.checks as number) >= 1);
  t.true(e?.message.includes(url));
});

test('an aborted waitHealthy rejects with GH_HEALTH_TIMEOUT marked aborted', async (t) => {
  const url = await server(t, () => 503);
  const ac = new AbortController();
  const p = waitHealthy(url, { timeoutMs: 60_000, intervalMs: 20, signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const e = await t.throwsAsync(p, { instanceOf: GridhostError });
  t.is(e?.code, 'GH_HEALTH_TIMEOUT');
  t.is(e?.details.aborted, true);
});
