// The guest-net seam on loopback: a "guest" at an unroutable address (TEST-NET-1, 192.0.2.0/24)
// is reached only through a GuestConnect that opens a stream to a real local server, as a dom0's
// SSH forwardOut would. Health waits, guest metrics and the builtin balancer (proxying and its
// health checks) must all go that way when told to, and directly otherwise.
import test from 'ava';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Guest } from '../../domain/types.ts';
import { GridhostError } from '../../errors/errors.ts';
import { BuiltinBalancer } from '../balancer/builtin/builtin-balancer.ts';
import { checkHealth, waitHealthy } from '../health/http-health.ts';
import { HttpLoadSource } from '../metrics/http-load-source.ts';
import { agentVia, GuestRoutes, type GuestConnect } from './guest-net.ts';

const UNROUTABLE = '192.0.2.77';

interface FakeGuest {
  port: number;
  hits: string[];
  close(): Promise<void>;
}

async function fakeGuest(t: { teardown(fn: () => unknown): void }): Promise<FakeGuest> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"rps": 7, "inflight": 1}');
    } else res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const close = () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  t.teardown(close);
  return { port: (server.address() as AddressInfo).port, hits, close };
}

/** A connect that records what it was asked for and opens a TCP stream to the fake guest. */
function tunnel(toPort: number): { connect: GuestConnect; asked: string[] } {
  const asked: string[] = [];
  const connect: GuestConnect = (host, port) => {
    asked.push(`${host}:${port}`);
    return new Promise<Duplex>((resolve, reject) => {
      const s = net.connect(toPort, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
  };
  return { connect, asked };
}

const refusing: GuestConnect = () => Promise.reject(new GridhostError('GH_COMMAND_FAILED', 'forward refused'));

function guest(address: string, host: string): Guest {
  return { id: `web-${host}`, pool: 'web', state: 'healthy', driver: 'xen', host, address, createdAt: 0, updatedAt: 0, meta: {} };
}

test('GuestRoutes: ssh hosts get a connect and one shared agent; routed and unknown hosts are reached directly', (t) => {
  const { connect } = tunnel(1);
  const routes = new GuestRoutes([{ name: 'dom0-a', via: connect }, { name: 'dom0-b', via: undefined }]);
  t.teardown(() => routes.close());
  t.is(routes.connectFor('dom0-a'), connect);
  t.is(routes.connectFor('dom0-b'), undefined);
  t.is(routes.connectFor('local'), undefined);
  t.is(routes.connectFor(undefined), undefined);
  const a = routes.agentFor('dom0-a');
  t.true(a instanceof http.Agent);
  t.is(routes.agentFor('dom0-a'), a, 'the agent is made once per host');
  t.is(routes.agentFor('dom0-b'), undefined);
  t.false(routes.allDirect);
  t.true(new GuestRoutes([{ name: 'x', via: undefined }]).allDirect);
});

test('agentVia sends the request to the address asked for through the connect function', async (t) => {
  const g = await fakeGuest(t);
  const { connect, asked } = tunnel(g.port);
  const agent = agentVia(connect, { keepAlive: false });
  t.teardown(() => agent.destroy());
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: UNROUTABLE, port: 80, path: '/x', agent }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  t.is(body, 'ok');
  t.deepEqual(asked, [`${UNROUTABLE}:80`]);
  t.deepEqual(g.hits, ['/x']);
});

test('health checks pass through the agent, fail when its connect is refused, and without it go direct', async (t) => {
  const g = await fakeGuest(t);
  const { connect, asked } = tunnel(g.port);
  const routes = new GuestRoutes([{ name: 'dom0-a', via: connect }, { name: 'dom0-x', via: refusing }]);
  t.teardown(() => routes.close());
  const url = `http://${UNROUTABLE}:80/healthz`;
  t.true(await checkHealth(url, 2000, undefined, routes.agentFor('dom0-a')));
  await waitHealthy(url, { timeoutMs: 5000, intervalMs: 10, agent: routes.agentFor('dom0-a') });
  t.deepEqual(asked, [`${UNROUTABLE}:80`, `${UNROUTABLE}:80`]);
  t.false(await checkHealth(url, 2000, undefined, routes.agentFor('dom0-x')));
  const e = await t.throwsAsync(waitHealthy(url, { timeoutMs: 200, intervalMs: 20, agent: routes.agentFor('dom0-x') }));
  t.is((e as GridhostError).code, 'GH_HEALTH_TIMEOUT');
  // direct: the loopback guest is reached as addressed
  t.true(await checkHealth(`http://127.0.0.1:${g.port}/healthz`, 2000, undefined, routes.agentFor('local')));
  t.is(asked.length, 2, 'the direct check did not use the tunnel');
});

test('HttpLoadSource reads a forwarded guest through its agent and a direct one directly', async (t) => {
  const g = await fakeGuest(t);
  const { connect, asked } = tunnel(g.port);
  const routes = new GuestRoutes([{ name: 'dom0-a', via: connect }]);
  t.teardown(() => routes.close());
  const src = new HttpLoadSource({ metricsPath: '/metrics', agentFor: (x) => routes.agentFor(x.host) });
  const far = guest(`${UNROUTABLE}:80`, 'dom0-a');
  const near = guest(`127.0.0.1:${g.port}`, 'local');
  const gone = guest(`${UNROUTABLE}:80`, 'dom0-b'); // not forwarded: direct to an unroutable address
  const m = await new HttpLoadSource({ metricsPath: '/metrics', timeoutMs: 300, agentFor: (x) => routes.agentFor(x.host) }).sample([gone]);
  t.is(m.size, 0);
  const out = await src.sample([far, near]);
  t.deepEqual(out.get(far.id), { rps: 7, inflight: 1 });
  t.deepEqual(out.get(near.id), { rps: 7, inflight: 1 });
  t.deepEqual(asked, [`${UNROUTABLE}:80`], 'only the forwarded guest used the tunnel');
});

async function frontGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    }).on('error', reject);
  });
}

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('builtin balancer: connectVia is asked once per add that names a host, and the backend is health-checked and proxied through it', async (t) => {
  const g = await fakeGuest(t);
  const { connect, asked } = tunnel(g.port);
  const calls: string[] = [];
  const lb = new BuiltinBalancer({
    healthIntervalMs: 20,
    riseCount: 1,
    connectVia: (host) => {
      calls.push(host);
      return host === 'dom0-a' ? connect : undefined;
    },
  });
  t.teardown(() => lb.close());
  await lb.ensurePool('web', '127.0.0.1:0', '/healthz');
  const port = Number(lb.frontendAddress('web').split(':').pop());
  await lb.add('web', 'far', `${UNROUTABLE}:80`, 'dom0-a');
  await lb.add('web', 'far', `${UNROUTABLE}:80`, 'dom0-a'); // same backend again: nothing new
  t.deepEqual(calls, ['dom0-a']);
  await until('far healthy', async () => (await lb.list('web'))[0]?.healthy === true);
  t.true(g.hits.includes('/healthz'), 'the health check went through the tunnel');
  const r = await frontGet(port, '/hello');
  t.deepEqual(r, { status: 200, body: 'ok' });
  t.true(g.hits.includes('/hello'));
  t.true(asked.every((a) => a === `${UNROUTABLE}:80`));

  // A backend added without a host to go through is dialled as addressed.
  await lb.remove('web', 'far');
  const before = asked.length;
  await lb.add('web', 'near', `127.0.0.1:${g.port}`);
  await until('near healthy', async () => (await lb.list('web'))[0]?.healthy === true);
  t.deepEqual(await frontGet(port, '/direct'), { status: 200, body: 'ok' });
  t.is(asked.length, before, 'the direct backend did not use the tunnel');
  t.true(g.hits.includes('/direct'));
});

test('builtin balancer: a backend whose connect is refused never becomes healthy and gets no traffic', async (t) => {
  let tries = 0;
  const counting: GuestConnect = (h, p) => { tries++; return refusing(h, p); };
  const lb = new BuiltinBalancer({ healthIntervalMs: 10, riseCount: 1, connectVia: () => counting });
  t.teardown(() => lb.close());
  await lb.ensurePool('web', '127.0.0.1:0', '/healthz');
  const port = Number(lb.frontendAddress('web').split(':').pop());
  await lb.add('web', 'far', `${UNROUTABLE}:80`, 'dom0-a');
  await until('three checks tried', async () => tries >= 3);
  t.false((await lb.list('web'))[0]?.healthy);
  t.is((await frontGet(port, '/')).status, 503);
});
