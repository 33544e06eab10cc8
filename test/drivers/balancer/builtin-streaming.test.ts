import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './helpers.ts';
import { setupPool } from './setup.ts';

/** A guest whose /half sends part of a body then dies, and whose /hang never answers. */
async function brokenGuest(t: import('ava').ExecutionContext) {
  const state = { hangClosed: 0 };
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('ok');
    if (req.url === '/half') {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(100), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    // /hang: note when the proxy gives up on us
    res.on('close', () => state.hangClosed++);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { state, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test.serial('a backend dying mid-body breaks the client response instead of truncating it silently', async (t) => {
  const { lb, front, status, healthy } = await setupPool(t);
  const g = await brokenGuest(t);
  await lb.add('web', 'g', g.address);
  await healthy('g');
  const [host, port] = front.split(':');
  const outcome = await new Promise<string>((resolve) => {
    const req = http.get({ host, port: Number(port), path: '/half', agent: false }, (res) => {
      let got = 0;
      res.on('data', (c: Buffer) => (got += c.length));
      res.on('end', () => resolve(`complete ${got}`));
      res.on('error', () => resolve('broken'));
      res.on('aborted', () => resolve('broken'));
    });
    req.on('error', () => resolve('broken'));
  });
  t.is(outcome, 'broken');
  await waitFor('failure counted', async () => (await status('g'))!.failed === 1);
  t.like(await status('g'), { active: 0, served: 0 });
});

test.serial('a client that goes away cancels the backend request and frees the slot', async (t) => {
  const { lb, front, status, healthy } = await setupPool(t);
  const g = await brokenGuest(t);
  await lb.add('web', 'g', g.address);
  await healthy('g');
  const [host, port] = front.split(':');
  const req = http.get({ host, port: Number(port), path: '/hang', agent: false });
  req.on('error', () => undefined);
  await waitFor('in flight', async () => (await status('g'))!.active === 1);
  req.destroy();
  await waitFor('slot freed', async () => (await status('g'))!.active === 0);
  await waitFor('backend request closed', () => g.state.hangClosed === 1);
  t.is((await status('g'))!.served, 0);
});
