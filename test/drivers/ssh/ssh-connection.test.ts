import test from 'ava';
import axios from 'axios';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { backoffDelay, SshHost, sshFingerprint, type SshHostOptions } from '../../../src/drivers/ssh/ssh-connection.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { startSshd, type SshdFixture } from './sshd-fixture.ts';

// One sshd per test: tests in this file run concurrently and some restart sshd.
const opened: Array<SshdFixture | SshHost | Server> = [];
test.after.always(async () => {
  for (const o of opened.reverse()) {
    if (o instanceof SshHost) await o.close();
    else if ('dispose' in o) await o.dispose();
    else await new Promise((r) => o.close(r));
  }
});

async function sshd(maxSessions?: number): Promise<SshdFixture> {
  const s = await startSshd(maxSessions === undefined ? {} : { maxSessions });
  opened.push(s);
  return s;
}

function host(s: SshdFixture, extra: Partial<SshHostOptions> = {}): SshHost {
  const h = new SshHost({
    name: 'dom0-test',
    address: '127.0.0.1',
    port: s.port,
    user: s.user,
    privateKeyPath: s.privateKeyPath,
    hostKeyFingerprint: s.hostKeyFingerprint,
    backoff: { baseMs: 20, maxMs: 200, random: () => 0.5 },
    ...extra,
  });
  opened.push(h);
  return h;
}

test('a command runs remotely and returns its stdout, stderr and exit code', async (t) => {
  const h = host(await sshd());
  const r = await h.exec(['sh', '-c', 'echo out; echo err >&2; exit 7'], { timeoutMs: 10_000 });
  t.deepEqual(r, { stdout: 'out\n', stderr: 'err\n', code: 7 });
});

test('stdin is delivered to the command', async (t) => {
  const h = host(await sshd());
  const input = 'name = "web-1"\nmemory = 128\n';
  const r = await h.exec(['cat'], { timeoutMs: 10_000, stdin: input });
  t.is(r.stdout, input);
});

test('hostile arguments arrive on the remote side intact, one argument each', async (t) => {
  const h = host(await sshd());
  const hostile = ["it's", '$(id)', '`id`', 'a;b', 'a\nb', '  spaces  ', '*', '"q"', '\\', 'ünï 🚀', '', 'NAME=x', "'; rm -rf / #"];
  const r = await h.exec(['printf', '%s\\0', ...hostile], { timeoutMs: 10_000 });
  const seen = r.stdout.split('\0');
  seen.pop();
  t.deepEqual(seen, hostile);
});

test('many concurrent commands share one handshake', async (t) => {
  const h = host(await sshd());
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => h.exec(['echo', String(i)], { timeoutMs: 20_000 })));
  t.deepEqual(
    results.map((r) => r.stdout),
    Array.from({ length: 30 }, (_, i) => `${i}\n`),
  );
  t.is(h.counters.handshakes, 1);
  t.is(h.counters.commands, 30);
});

test('commands beyond the channel limit queue instead of failing (sshd MaxSessions 2)', async (t) => {
  // One below the server's limit: sshd frees a session slot a moment after the channel closes.
  const h = host(await sshd(2), { maxChannels: 1 });
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => h.exec(['sh', '-c', `sleep 0.2; echo ${i}`], { timeoutMs: 20_000 })));
  t.deepEqual(
    results.map((r) => r.code),
    Array(8).fill(0),
  );
  t.is(h.counters.handshakes, 1);
});

test('a wrong pinned fingerprint is refused with GH_HOST_KEY_MISMATCH naming both fingerprints', async (t) => {
  const s = await sshd();
  const h = host(s, { hostKeyFingerprint: s.otherFingerprint });
  const e = await t.throwsAsync(h.exec(['true'], { timeoutMs: 10_000 }), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_HOST_KEY_MISMATCH');
  t.true(e?.message.includes(s.hostKeyFingerprint), 'message shows the presented key');
  t.true(e?.message.includes(s.otherFingerprint), 'message shows the pinned key');
  t.is(h.counters.handshakes, 0);
  t.is(h.counters.commands, 0);
});

test('a command that outlives its timeout rejects GH_COMMAND_TIMEOUT and the connection stays usable', async (t) => {
  const h = host(await sshd());
  const e = await t.throwsAsync(h.exec(['sleep', '30'], { timeoutMs: 300 }), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_COMMAND_TIMEOUT');
  const r = await h.exec(['echo', 'still here'], { timeoutMs: 10_000 });
  t.is(r.stdout, 'still here\n');
  t.is(h.counters.handshakes, 1);
});

test('a timed-out command is killed on the remote side, with the children it started', async (t) => {
  const h = host(await sshd());
  const pidFile = `/tmp/gridhost-timeout-${process.pid}-${Date.now()}`;
  // sh stays the parent of a background sleep: both must die.
  const script = 'echo $$ > "$1"; sleep 30 & echo $! >> "$1"; wait; echo never';
  await t.throwsAsync(h.exec(['sh', '-c', script, 'sh', pidFile], { timeoutMs: 1500 }), { instanceOf: GridhostError });
  const pids = (await h.exec(['cat', pidFile], { timeoutMs: 10_000 })).stdout.trim().split('\n');
  t.is(pids.length, 2);
  // The remote `timeout` (or the server, on a signal request) kills them a moment later: poll, bounded.
  let alive = true;
  for (let i = 0; i < 100 && alive; i++) {
    const r = await h.exec(['sh', '-c', 'for p in "$@"; do kill -0 "$p" 2>/dev/null && echo alive; done; true', 'sh', ...pids], { timeoutMs: 10_000 });
    alive = r.stdout.includes('alive');
    if (alive) await new Promise((res) => setTimeout(res, 100));
  }
  await h.exec(['rm', '-f', pidFile], { timeoutMs: 10_000 });
  t.false(alive, 'the command and its process group are gone');
});

test('after sshd restarts, the next command reconnects with a new handshake', async (t) => {
  const s = await sshd();
  const h = host(s);
  t.is((await h.exec(['echo', 'one'], { timeoutMs: 10_000 })).stdout, 'one\n');
  await s.stop();
  await s.start();
  // The first command may race the drop being noticed; the connection must come back either way.
  let out: string | undefined;
  for (let i = 0; i < 3 && out === undefined; i++) {
    try {
      out = (await h.exec(['echo', 'two'], { timeoutMs: 10_000 })).stdout;
    } catch (e) {
      t.is((e as GridhostError).code, 'GH_HOST_UNREACHABLE');
    }
  }
  t.is(out, 'two\n');
  t.is(h.counters.handshakes, 2);
});

test('an unreachable host rejects GH_HOST_UNREACHABLE after its retries', async (t) => {
  const s = await sshd();
  await s.stop();
  const delays: number[] = [];
  const h = host(s, { connectAttempts: 3, sleep: async (ms) => void delays.push(ms) });
  const e = await t.throwsAsync(h.exec(['true'], { timeoutMs: 10_000 }), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_HOST_UNREACHABLE');
  t.deepEqual(delays, [10, 20]); // random() = 0.5 of 20 then 40
});

test('backoff grows exponentially, is capped, and is jittered by the injected source', (t) => {
  const b = { baseMs: 100, maxMs: 1000, random: () => 0.999 };
  t.deepEqual(
    [0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, b)),
    [99, 199, 399, 799, 999, 999],
  );
  t.is(backoffDelay(3, { ...b, random: () => 0 }), 0);
});

test('fingerprints are computed the way OpenSSH prints them', (t) => {
  // ssh-keygen -lf of this ed25519 key prints SHA256:Bvqo8Gm2yUlasALEUmMDEbfBV7dsV4srS5qJGWbqUJI (checked by hand);
  // here we pin the format: SHA256: + unpadded base64 of sha256(blob).
  const fp = sshFingerprint(Buffer.from('abc'));
  t.is(fp, 'SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0');
});

test('a malformed pinned fingerprint is a configuration error', (t) => {
  const e = t.throws(() => new SshHost({ name: 'x', address: '127.0.0.1', port: 22, user: 'root', hostKeyFingerprint: 'MD5:aa:bb' }), {
    instanceOf: GridhostError,
  });
  t.is(e?.code, 'GH_CONFIG_INVALID');
});

async function httpServer(): Promise<number> {
  const srv = createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(`path=${req.url}`);
  });
  opened.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as AddressInfo).port;
}

test('httpGet reaches an HTTP server as seen from the host, over the same connection', async (t) => {
  const port = await httpServer();
  const h = host(await sshd());
  await h.exec(['true'], { timeoutMs: 10_000 });
  const r = await h.httpGet('127.0.0.1', port, '/healthz', 10_000);
  t.is(r.status, 200);
  t.is(r.body, 'path=/healthz');
  const r2 = await h.httpGet('127.0.0.1', port, '/nope', 10_000);
  t.is(r2.status, 404);
  t.is(h.counters.handshakes, 1);
  t.is(h.counters.forwards, 2);
});

test('axios works through the forwarding agent', async (t) => {
  const port = await httpServer();
  const h = host(await sshd());
  const r = await axios.get(`http://127.0.0.1:${port}/healthz`, { httpAgent: h.agent(), timeout: 10_000, proxy: false });
  t.is(r.status, 200);
  t.is(r.data, 'path=/healthz');
  t.is(h.counters.forwards, 1);
});

test('a forward to a closed port fails with GH_COMMAND_FAILED and the connection survives', async (t) => {
  const port = await httpServer();
  const h = host(await sshd());
  const closed = await new Promise<number>((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  const e = await t.throwsAsync(h.httpGet('127.0.0.1', closed, '/', 10_000), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_COMMAND_FAILED');
  t.is((await h.httpGet('127.0.0.1', port, '/healthz', 10_000)).status, 200);
  t.is(h.counters.handshakes, 1);
});

test('the fixture found sshd', (t) => {
  t.true(existsSync('/usr/sbin/sshd'), 'CI must install openssh-server');
});
