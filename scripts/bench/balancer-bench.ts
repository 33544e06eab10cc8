// Proxy overhead of the builtin balancer: requests/s against a trivial backend directly vs
// through the proxy (1 and 3 backends), plain node:http client loops with keep-alive.
// Run: npx tsx scripts/bench/balancer-bench.ts
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { BuiltinBalancer } from '../../src/drivers/balancer/builtin/builtin-balancer.ts';

const REQUESTS = 5000;
const CONCURRENCY = 16;

async function trivialBackend(): Promise<{ server: http.Server; address: string }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('ok');
    res.end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function rate(address: string): Promise<{ rps: number; errors: number }> {
  const [host, port] = address.split(':');
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  let errors = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host, port: Number(port), path: '/', agent }, (res) => {
        if (res.statusCode !== 200) errors++;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const worker = async () => {
    while (next++ < REQUESTS) await one();
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  return { rps: REQUESTS / secs, errors };
}

export async function benchBalancer(): Promise<string> {
  const backends = await Promise.all([trivialBackend(), trivialBackend(), trivialBackend()]);
  const lb = new BuiltinBalancer({ healthIntervalMs: 100, riseCount: 1 });
  const lines: string[] = [];
  try {
    await rate(backends[0]!.address); // warm-up
    const direct = await rate(backends[0]!.address);
    await lb.ensurePool('one', '127.0.0.1:0', '/healthz');
    await lb.add('one', 'b0', backends[0]!.address);
    await lb.ensurePool('three', '127.0.0.1:0', '/healthz');
    for (const [i, b] of backends.entries()) await lb.add('three', `b${i}`, b.address);
    await new Promise((r) => setTimeout(r, 300)); // let health checks rise
    await rate(lb.frontendAddress('one'));
    const one = await rate(lb.frontendAddress('one'));
    const three = await rate(lb.frontendAddress('three'));
    const f = (n: number) => n.toFixed(0).padStart(7);
    lines.push(`balancer bench: ${REQUESTS} GETs, concurrency ${CONCURRENCY}, keep-alive, one process`);
    lines.push(`  direct to backend     ${f(direct.rps)} req/s  errors ${direct.errors}`);
    lines.push(`  proxy, 1 backend      ${f(one.rps)} req/s  errors ${one.errors}  (${((1 - one.rps / direct.rps) * 100).toFixed(0)}% below direct)`);
    lines.push(`  proxy, 3 backends     ${f(three.rps)} req/s  errors ${three.errors}`);
  } finally {
    await lb.close();
    for (const b of backends) {
      b.server.closeAllConnections();
      b.server.close();
    }
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchBalancer());
}
