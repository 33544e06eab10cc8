// The real hook runner against real processes and a real HTTP server on loopback.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { CommandHook, HttpHook } from '../../../src/domain/policy.ts';
import type { HookContext } from '../../../src/drivers/hooks/hook-runner.ts';
import { RealHookRunner } from '../../../src/drivers/hooks/hook-runner-real.ts';

const ctx: HookContext = { hook: 'before_register', guest: 'web-1a2b3c4d', pool: 'web', address: '127.0.0.1:40001', host: 'localhost' };

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-hooks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const cmd = (command: string[], over: Partial<CommandHook> = {}): CommandHook => ({ kind: 'command', command, timeoutMs: 10_000, onFailure: 'abandon', ...over });

function script(dir: string, name: string, body: string): string {
  const f = join(dir, name);
  writeFileSync(f, body);
  return f;
}

test('a command hook gets its arguments with placeholders filled in, literally (no shell), and succeeds on exit 0', async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'args.json');
  const s = script(dir, 'args.mjs', `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.argv.slice(2)));`);
  const runner = new RealHookRunner({ cwd: dir });
  const r = await runner.run(cmd([process.execPath, s, '--guest={{guest}}', '{{address}}', '$(touch pwned)', '; echo {{pool}}']), ctx);
  t.true(r.ok, r.detail);
  t.is(r.detail, 'exit 0');
  t.true(r.durationMs >= 0);
  t.deepEqual(JSON.parse(readFileSync(out, 'utf8')), ['--guest=web-1a2b3c4d', '127.0.0.1:40001', '$(touch pwned)', '; echo web']);
  t.false(existsSync(join(dir, 'pwned')), 'nothing was run through a shell');
});

test('a command hook runs with a minimal environment: the guest\'s facts and a fixed PATH, none of gridhost\'s variables', async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'env.json');
  const s = script(dir, 'env.mjs', `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(out)}, JSON.stringify({ env: process.env, cwd: process.cwd() }));`);
  process.env.GRIDHOST_API_TOKEN = 'secret-token-for-the-test';
  t.teardown(() => delete process.env.GRIDHOST_API_TOKEN);
  const r = await new RealHookRunner({ cwd: dir }).run(cmd([process.execPath, s]), { ...ctx, hook: 'before_retire', host: 'dom0-a' });
  t.true(r.ok, r.detail);
  const { env, cwd } = JSON.parse(readFileSync(out, 'utf8')) as { env: Record<string, string>; cwd: string };
  t.deepEqual(Object.keys(env).filter((k) => k !== 'PATH').sort(), ['GRIDHOST_ADDRESS', 'GRIDHOST_GUEST', 'GRIDHOST_HOOK', 'GRIDHOST_HOST', 'GRIDHOST_POOL', 'LANG']);
  t.is(env.GRIDHOST_HOOK, 'before_retire');
  t.is(env.GRIDHOST_GUEST, 'web-1a2b3c4d');
  t.is(env.GRIDHOST_POOL, 'web');
  t.is(env.GRIDHOST_ADDRESS, '127.0.0.1:40001');
  t.is(env.GRIDHOST_HOST, 'dom0-a');
  t.regex(env.PATH!, /(^|:)\/usr\/bin(:|$)/);
  t.is(cwd, dir);
});

test('a command hook that exits non-zero fails, naming the exit status and its last stderr line', async (t) => {
  const dir = tmp(t);
  const s = script(dir, 'fail.mjs', `console.error('warming'); console.error('cache service refused: 503'); process.exit(3);`);
  const r = await new RealHookRunner({ cwd: dir }).run(cmd([process.execPath, s]), ctx);
  t.false(r.ok);
  t.falsy(r.timedOut);
  t.is(r.detail, 'exit 3: cache service refused: 503');
});

test('a command hook over its timeout is killed with everything it started, and fails as timed out', async (t) => {
  const dir = tmp(t);
  const pidFile = join(dir, 'grandchild.pid');
  // It starts a grandchild that would outlive it, then hangs.
  const s = script(dir, 'hang.mjs', `
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
writeFileSync(${JSON.stringify(pidFile)}, String(c.pid));
process.on('SIGTERM', () => {}); // ignores the polite signal: SIGKILL follows
setInterval(() => {}, 1000);`);
  const r = await new RealHookRunner({ cwd: dir }).run(cmd([process.execPath, s], { timeoutMs: 1500 }), ctx);
  t.false(r.ok);
  t.true(r.timedOut);
  t.regex(r.detail, /timed out after 1500 ms/);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  let alive = true;
  for (let i = 0; i < 50 && alive; i++) {
    try {
      process.kill(grandchild, 0);
      await new Promise((res) => setTimeout(res, 100));
    } catch {
      alive = false;
    }
  }
  t.false(alive, 'the hook\'s grandchild was killed with its group');
});

test('a command hook whose program does not exist fails without throwing', async (t) => {
  const r = await new RealHookRunner({ cwd: tmp(t) }).run(cmd(['/nonexistent/gridhost-hook']), ctx);
  t.false(r.ok);
  t.regex(r.detail, /could not start \/nonexistent\/gridhost-hook: ENOENT/);
});

// ---- http

async function server(t: { teardown(fn: () => void): void }, handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    s.closeAllConnections();
    s.close();
  });
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const httpHook = (url: string, over: Partial<HttpHook> = {}): HttpHook => ({ kind: 'http', url, method: 'POST', headers: {}, timeoutMs: 5000, onFailure: 'abandon', ...over });

test('an http hook posts the guest as JSON with its headers, to a URL whose placeholders are percent-encoded, and succeeds on 2xx', async (t) => {
  const seen: { method?: string; url?: string; body?: string; auth?: string; type?: string }[] = [];
  const base = await server(t, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, body, auth: req.headers.authorization, type: req.headers['content-type'] });
      res.writeHead(204).end();
    });
  });
  const r = await new RealHookRunner({ cwd: '/' }).run(httpHook(`${base}/hosts/{{guest}}?pool={{pool}}`, { headers: { Authorization: 'Bearer mon-token' } }), { ...ctx, guest: 'a/b?c=d' });
  t.true(r.ok, r.detail);
  t.is(r.detail, 'HTTP 204');
  t.is(seen.length, 1);
  t.is(seen[0]!.method, 'POST');
  t.is(seen[0]!.url, '/hosts/a%2Fb%3Fc%3Dd?pool=web');
  t.is(seen[0]!.auth, 'Bearer mon-token');
  t.regex(seen[0]!.type ?? '', /application\/json/);
  t.deepEqual(JSON.parse(seen[0]!.body!), { hook: 'before_register', guest: { id: 'a/b?c=d', pool: 'web', address: '127.0.0.1:40001', host: 'localhost' } });
});

test('an http hook fails on a non-2xx answer and does not follow redirects', async (t) => {
  let hits = 0;
  const base = await server(t, (req, res) => {
    hits++;
    if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end();
    else if (req.url === '/ok') res.writeHead(200).end('ok');
    else res.writeHead(500).end('no');
  });
  const runner = new RealHookRunner({ cwd: '/' });
  const r500 = await runner.run(httpHook(`${base}/x`), ctx);
  t.false(r500.ok);
  t.is(r500.detail, 'HTTP 500');
  const r302 = await runner.run(httpHook(`${base}/moved`, { method: 'DELETE' }), ctx);
  t.false(r302.ok);
  t.is(r302.detail, 'HTTP 302');
  t.is(hits, 2, 'the redirect was not followed');
});

test('an http hook over its timeout is aborted and fails as timed out; a refused connection fails too', async (t) => {
  const base = await server(t, () => { /* never answers */ });
  const runner = new RealHookRunner({ cwd: '/' });
  const r = await runner.run(httpHook(`${base}/slow`, { timeoutMs: 800 }), ctx);
  t.false(r.ok);
  t.true(r.timedOut);
  t.is(r.detail, 'timed out after 800 ms');
  // Port 1 on loopback: nothing listens there.
  const refused = await runner.run(httpHook('http://127.0.0.1:1/', {}), ctx);
  t.false(refused.ok);
  t.regex(refused.detail, /request failed: ECONNREFUSED/);
});
