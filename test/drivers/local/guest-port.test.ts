// A local guest's port is its own: the address boot() returns is held by the guest's own
// listening socket, never a number handed out unbound for another process to take first, and a
// guest whose address is held by another process fails the identity check with a clear error.
import test from 'ava';
import http from 'node:http';
import { waitHealthy } from '../../../src/drivers/health/http-health.ts';
import { LocalHypervisor } from '../../../src/drivers/hypervisor/local/local-hypervisor.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { FIXTURES, eventually, guestOf, guestsDir, makePolicy, spec } from './helpers.ts';

const SLOW = makePolicy({ template: `${FIXTURES}/slow-start.local.yaml` });

/** What answers `GET /?ms=0` at `address` (the example guest names itself). */
function whoAnswers(address: string): Promise<string> {
  return new Promise((resolve) => {
    http.get(`http://${address}/?ms=0`, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body.trim()));
    }).on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code}`));
  });
}

/** An HTTP server that answers 200 "intruder" at `address`; resolves with it, or the bind error's code. */
function intrude(address: string): Promise<http.Server | string> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const srv = http.createServer((_q, r) => r.end('intruder'));
    srv.once('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? 'error'));
    srv.listen(Number(port), host, () => resolve(srv));
  });
}

test('the address boot returns is already held by the guest itself: another process cannot take it before the guest listens', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-p1', SLOW); // sleeps 1 s before its server listens
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const intruder = await intrude(b.address!);
  t.teardown(() => void (typeof intruder !== 'string' && intruder.close()));
  t.is(typeof intruder === 'string' ? intruder : 'listening', 'EADDRINUSE', `another process could listen at ${b.address} after boot returned it`);
  await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 10_000, intervalMs: 50 });
  t.is(await whoAnswers(b.address!), 'web-p1 worked 0 ms');
  await hv.stop(guestOf(s, c, b), 2000);
});

test('guests booted concurrently never share a port, and each answers as itself at its address', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  for (let round = 0; round < 2; round++) {
    const made = await Promise.all(Array.from({ length: 5 }, async (_, i) => {
      const s = spec(`web-c${round}${i}`, makePolicy());
      const c = await hv.clone(s);
      return { s, c, b: await hv.boot(s, c.meta) };
    }));
    const addresses = made.map((m) => m.b.address);
    t.is(new Set(addresses).size, addresses.length, `round ${round}: ${addresses.join(' ')}`);
    for (const { s, b } of made) {
      await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 10_000, intervalMs: 50 });
      t.is(await whoAnswers(b.address!), `${s.id} worked 0 ms`);
    }
    for (const { s, c, b } of made) {
      await hv.stop(guestOf(s, c, b), 2000);
      await hv.deleteClone(guestOf(s, c, b));
    }
  }
});

test('a guest whose address another process holds fails the identity check, naming that process', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-v1', makePolicy({ template: `${FIXTURES}/vacate.local.yaml`, image: `${FIXTURES}/vacate` }));
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const g = guestOf(s, c, b);
  await hv.verifyAddress(g); // its own listener: passes
  // The guest lets its port go and lives on; another process takes the port and answers 200.
  process.kill(Number(b.meta.pid), 'SIGUSR2');
  let intruder: http.Server | string = '';
  t.true(await eventually(async () => typeof (intruder = await intrude(b.address!)) !== 'string'), `could not take ${b.address}`);
  t.teardown(() => void (typeof intruder !== 'string' && intruder.close()));
  await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 5000, intervalMs: 50 }); // the HTTP check alone is fooled
  const e = await t.throwsAsync(hv.verifyAddress(g), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_HEALTH_TIMEOUT');
  t.regex(e?.message ?? '', new RegExp(`${b.address} is answered by another process \\(pid ${process.pid}, node\\), not by guest web-v1`));
  await hv.stop(g, 2000);
});

test('a guest that never listens on a port fails boot with GH_BOOT_FAILED within its boot timeout, leaving nothing running', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const base = makePolicy({ template: `${FIXTURES}/silent.local.yaml` });
  const s = spec('web-n1', { ...base, guest: { ...base.guest, bootTimeoutMs: 1000 } });
  const c = await hv.clone(s);
  const e = await t.throwsAsync(hv.boot(s, c.meta), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_BOOT_FAILED');
  t.regex(e?.message ?? '', /did not listen on a TCP port at 127\.0\.0\.1 within 1000 ms/);
  t.deepEqual((await hv.discover()).filter((d) => d.running), []);
});

test('the port found is the one a child in the guest\'s process group listens on (a wrapper that does not exec)', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-w1', makePolicy({ template: `${FIXTURES}/child.local.yaml` }));
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  t.is(b.address, `127.0.0.1:${b.meta.port}`);
  await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 10_000, intervalMs: 50 });
  t.is(await whoAnswers(b.address!), 'web-w1 worked 0 ms');
  await hv.verifyAddress(guestOf(s, c, b));
  await hv.stop(guestOf(s, c, b), 2000);
});
