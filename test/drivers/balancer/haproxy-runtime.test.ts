// The runtime API client against a real HAProxy 2.6: typed results and typed errors for what
// HAProxy answers, over a unix and a TCP stats socket.
import test from 'ava';
import net from 'node:net';
import { join } from 'node:path';
import { HaproxyRuntime } from '../../../src/drivers/balancer/haproxy/runtime-api.ts';
import { parseSocketAddress } from '../../../src/drivers/balancer/haproxy/runtime-socket.ts';
import { isGridhostError } from '../../../src/errors/errors.ts';
import { freePort, startHaproxy } from './haproxy-fixture.ts';
import { startBackend, send, waitFor } from './helpers.ts';

const CHECK = { interMs: 100, rise: 1, fall: 2 };

function client(socket: string): HaproxyRuntime {
  return new HaproxyRuntime(parseSocketAddress(socket)!, { timeoutMs: 10_000 });
}

test.serial('a server is added in maintenance, enabled with its health check, drained, put in maintenance and deleted', async (t) => {
  const hx = await startHaproxy();
  const backend = await startBackend('a');
  t.teardown(async () => {
    await hx.stop();
    await backend.kill();
  });
  const api = client(hx.socket);
  t.is(await api.cliLevel(), 'admin');
  await api.addServer('web', 'gh-a', backend.address, CHECK);
  const added = (await api.serversState('web')).find((s) => s.name === 'gh-a');
  t.like(added, { backend: 'web', addr: '127.0.0.1', port: backend.port, maint: true, drain: false });

  await api.enableHealth('web', 'gh-a');
  await api.setState('web', 'gh-a', 'ready');
  await waitFor('gh-a up', async () => (await api.serversState('web')).find((s) => s.name === 'gh-a')?.op === 'running');
  await waitFor('gh-a checked', async () => (await api.stat('web')).find((s) => s.name === 'gh-a')?.checkStatus === 'L7OK');
  const r = await send(hx.frontends.web!);
  t.is(r.status, 200);
  t.is(r.body, 'a');
  const st = (await api.stat('web')).find((s) => s.name === 'gh-a')!;
  t.like(st, { status: 'UP', scur: 0, addr: backend.address });
  t.true(st.hrsp2xx >= 1 && st.stot >= 1);

  await api.setState('web', 'gh-a', 'drain');
  t.like((await api.serversState('web')).find((s) => s.name === 'gh-a'), { drain: true, maint: false });
  t.is((await api.stat('web')).find((s) => s.name === 'gh-a')?.status, 'DRAIN');
  // A drained server takes no new requests: with no other server the front end answers 503.
  t.is((await send(hx.frontends.web!)).status, 503);

  await t.throwsAsync(api.delServer('web', 'gh-a'), { code: 'GH_HAPROXY_COMMAND_FAILED', message: /del server/ });
  await api.setState('web', 'gh-a', 'maint');
  t.is(await api.delServer('web', 'gh-a'), 'deleted');
  t.is(await api.delServer('web', 'gh-a'), 'absent');
  t.deepEqual((await api.serversState('web')).map((s) => s.name), []);
});

test.serial('del server answers busy while a request is in flight on the server, deleted once it has finished', async (t) => {
  const hx = await startHaproxy();
  const backend = await startBackend('a');
  t.teardown(async () => {
    await hx.stop();
    await backend.kill();
  });
  const api = client(hx.socket);
  await api.addServer('web', 'gh-a', backend.address, CHECK);
  await api.enableHealth('web', 'gh-a');
  await api.setState('web', 'gh-a', 'ready');
  await waitFor('gh-a up', async () => (await api.stat('web')).find((s) => s.name === 'gh-a')?.status === 'UP');
  backend.held = true;
  const inFlight = send(hx.frontends.web!);
  await waitFor('request reached the backend', () => backend.hits === 1);
  t.is((await api.stat('web')).find((s) => s.name === 'gh-a')?.scur, 1);
  await api.setState('web', 'gh-a', 'maint');
  t.is(await api.delServer('web', 'gh-a'), 'busy');
  backend.release();
  t.is((await inFlight).status, 200, 'maintenance does not cut a request in flight');
  await waitFor('deleted', async () => (await api.delServer('web', 'gh-a')) !== 'busy');
  t.deepEqual(await api.serversState('web'), []);
});

test.serial('typed errors: unknown backend, server exists, permission denied on a user-level socket', async (t) => {
  const hx = await startHaproxy({ level: 'user' });
  t.teardown(() => hx.stop());
  const user = client(hx.socket);
  t.is(await user.cliLevel(), 'user');
  await t.throwsAsync(user.addServer('web', 'gh-a', '127.0.0.1:9', CHECK), { code: 'GH_HAPROXY_PERMISSION_DENIED', message: /level admin/ });
  // The test's own admin socket beside it:
  await t.throwsAsync(hx.admin.serversState('nope'), { code: 'GH_HAPROXY_UNKNOWN_BACKEND', message: /no backend "nope"/ });
  await t.throwsAsync(hx.admin.addServer('nope', 'gh-a', '127.0.0.1:9', CHECK), { code: 'GH_HAPROXY_UNKNOWN_BACKEND' });
  await hx.admin.addServer('web', 'gh-a', '127.0.0.1:9', CHECK);
  const e = await t.throwsAsync(hx.admin.addServer('web', 'gh-a', '127.0.0.1:10', CHECK), { code: 'GH_HAPROXY_SERVER_EXISTS' });
  t.like(e && isGridhostError(e) ? e.details : {}, { backend: 'web', server: 'gh-a', fault: 'server-exists' });
  await t.throwsAsync(hx.admin.setState('web', 'gh-zz', 'drain'), { code: 'GH_HAPROXY_COMMAND_FAILED', message: /No such server/ });
});

test.serial('a TCP stats socket works like the unix one', async (t) => {
  const hx = await startHaproxy({ socket: 'tcp' });
  t.teardown(() => hx.stop());
  t.regex(hx.socket, /^127\.0\.0\.1:\d+$/);
  const api = client(hx.socket);
  t.is(await api.cliLevel(), 'admin');
  t.is((await api.info()).pid, await hx.workerPid());
  await api.addServer('web', 'gh-a', '127.0.0.1:9', CHECK);
  t.deepEqual((await api.serversState('web')).map((s) => s.name), ['gh-a']);
});

test.serial('an unreachable socket is GH_HAPROXY_UNREACHABLE: no such file, refused port, no answer in time', async (t) => {
  await t.throwsAsync(client('/nonexistent/gridhost-haproxy.sock').cliLevel(), { code: 'GH_HAPROXY_UNREACHABLE', message: /no such socket/ });
  const port = await freePort();
  await t.throwsAsync(client(`127.0.0.1:${port}`).cliLevel(), { code: 'GH_HAPROXY_UNREACHABLE', message: /refused/ });
  // A listener that accepts and never answers.
  const held: net.Socket[] = [];
  const mute = net.createServer((s) => held.push(s));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of held) s.destroy();
    mute.close();
  });
  const silent = new HaproxyRuntime(parseSocketAddress(`127.0.0.1:${(mute.address() as { port: number }).port}`)!, { timeoutMs: 300 });
  await t.throwsAsync(silent.cliLevel(), { code: 'GH_HAPROXY_UNREACHABLE', message: /did not answer within 300 ms/ });
});

test.serial('something that is not HAProxy at the socket address is named as such', async (t) => {
  // An SSH server, say: it greets and hangs up on what it does not understand.
  const other = net.createServer((s) => s.end('SSH-2.0-OpenSSH_9.2p1\r\nProtocol mismatch.\n'));
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  t.teardown(() => other.close());
  const api = client(`127.0.0.1:${(other.address() as { port: number }).port}`);
  await t.throwsAsync(api.cliLevel(), { code: 'GH_HAPROXY_COMMAND_FAILED', message: /did not answer like HAProxy's runtime API .*stats socket/ });
});

test.serial('names and addresses that the CLI would split are refused before anything is sent', async (t) => {
  const api = client(join('/nonexistent', 'x.sock'));
  for (const bad of ['web;shutdown sessions', 'a b', 'x\nshow info', '']) {
    await t.throwsAsync(api.serversState(bad), { code: 'GH_UNSAFE_ARGUMENT' }, JSON.stringify(bad));
  }
  await t.throwsAsync(api.addServer('web', 'gh-a', '127.0.0.1:80;help', CHECK), { code: 'GH_UNSAFE_ARGUMENT' });
  await t.throwsAsync(api.addServer('web', 'gh-a', 'no-port', CHECK), { code: 'GH_UNSAFE_ARGUMENT' });
});
