// The netns bridge the routed Xen tests use to reach gridhost's API and HAProxy's front end in
// the lab's namespace: a server on the namespace's own loopback is not reachable from here, and
// is through the bridge (requests, keep-alive, a large body); stop() leaves no helper process.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import { bridgeIntoNetns } from './netns-bridge.ts';
import { freePort, request, sleep } from './harness.ts';

test('a service on a namespace\'s loopback is reached through the bridge, and only through it', async (t) => {
  const ns = `ghbr-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  t.teardown(() => execFileSync('ip', ['netns', 'del', ns]));
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const port = await freePort();
  const body = 'x'.repeat(300_000);
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e',
    `require('node:http').createServer((q, s) => s.end(q.url === '/big' ? 'x'.repeat(300000) : 'ns ' + q.url)).listen(${port}, '127.0.0.1', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => server.kill('SIGKILL'));
  await new Promise((r) => server.stdout!.once('data', r));
  // Not on this namespace's loopback: the port there is someone else's or nobody's.
  const direct = await request(`http://127.0.0.1:${port}/`, { timeoutMs: 2000 }).then((r) => r.body, (e: Error) => e.message);
  t.not(direct, 'ns /', 'the namespace\'s loopback is its own');

  const bridge = await bridgeIntoNetns(ns, '127.0.0.1', port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string): Promise<string> => new Promise((resolve, reject) => {
    http.get(`${bridge.url}${path}`, { agent }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  for (let i = 0; i < 20; i++) t.is(await get(`/r${i}`), `ns /r${i}`);
  t.is(await get('/big'), body);
  agent.destroy();
  const before = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
  await bridge.stop();
  await sleep(200);
  const after = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
  t.is(after, before - 1, 'the bridge\'s helper in the namespace is gone');
});
