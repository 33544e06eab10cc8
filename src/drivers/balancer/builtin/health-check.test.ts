import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyCheck, probe, type HealthState } from './health-check.ts';

const fresh = (): HealthState => ({ healthy: false, okStreak: 0, failStreak: 0 });

test('a backend becomes healthy only after rise consecutive successes', (t) => {
  const s = fresh();
  t.false(applyCheck(s, true, 2, 2));
  t.false(s.healthy);
  t.true(applyCheck(s, true, 2, 2));
  t.true(s.healthy);
});

test('a failure between successes restarts the rise count', (t) => {
  const s = fresh();
  applyCheck(s, true, 2, 2);
  applyCheck(s, false, 2, 2);
  t.false(applyCheck(s, true, 2, 2));
  t.false(s.healthy);
  t.true(applyCheck(s, true, 2, 2));
});

test('a healthy backend falls only after fall consecutive failures', (t) => {
  const s: HealthState = { healthy: true, okStreak: 0, failStreak: 0 };
  t.false(applyCheck(s, false, 2, 3));
  t.false(applyCheck(s, false, 2, 3));
  t.true(s.healthy);
  t.true(applyCheck(s, false, 2, 3));
  t.false(s.healthy);
});

test('a success between failures restarts the fall count', (t) => {
  const s: HealthState = { healthy: true, okStreak: 0, failStreak: 0 };
  applyCheck(s, false, 2, 2);
  applyCheck(s, true, 2, 2);
  t.false(applyCheck(s, false, 2, 2));
  t.true(s.healthy);
});

test('probe passes on 2xx/3xx and fails on 5xx, refused connections and timeouts, saying which', async (t) => {
  const server = http.createServer((req, res) => {
    if (req.url === '/ok') res.end('ok');
    else if (req.url === '/moved') { res.statusCode = 302; res.end(); }
    else if (req.url === '/slow') setTimeout(() => res.end('late'), 400);
    else { res.statusCode = 503; res.end(); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    t.deepEqual(await probe('127.0.0.1', port, '/ok', 1000), { ok: true, detail: 'HTTP 200' });
    t.deepEqual(await probe('127.0.0.1', port, '/moved', 1000), { ok: true, detail: 'HTTP 302' });
    t.deepEqual(await probe('127.0.0.1', port, '/bad', 1000), { ok: false, detail: 'HTTP 503' });
    t.deepEqual(await probe('127.0.0.1', port, '/slow', 50), { ok: false, detail: 'timeout after 50 ms' });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  t.deepEqual(await probe('127.0.0.1', port, '/ok', 1000), { ok: false, detail: 'connection refused (ECONNREFUSED)' });
});
