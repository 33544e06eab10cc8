// Starts a real gridhost process (the CLI, as an operator would) in a temp directory with its
// own policies, templates, data and loopback ports; collects its JSON log lines; stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { bridgeIntoNetns } from './netns-bridge.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export interface GridhostProcess {
  dir: string;
  apiPort: number;
  api: string;
  logs: Record<string, unknown>[];
  stderr: string[];
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Remove the temp dir (after stop). */
  cleanup(): void;
}

export interface StartOptions {
  /** policy file name -> YAML text */
  policies: Record<string, string>;
  /** extra template files (name -> text), written next to a copy of templates/images */
  templates?: Record<string, string>;
  env?: Record<string, string>;
  dir?: string;
  /** How long to wait for the API to answer (default 30 s; a dom0 to reconcile takes longer). */
  startTimeoutMs?: number;
  /** gridhost.yaml text, written in the workspace (gridhost's cwd, where it reads it from). */
  config?: string;
  /** Run gridhost inside this network namespace (`ip netns exec`); `api` then goes through a
   *  loopback bridge into it (netns-bridge.ts). */
  netns?: string;
}

/** Prepare a temp workspace: policies/, templates/ (copy of the repo's images), data/. */
export function workspace(opts: StartOptions): string {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gridhost-e2e-'));
  mkdirSync(join(dir, 'policies'), { recursive: true });
  mkdirSync(join(dir, 'templates'), { recursive: true });
  cpSync(join(REPO, 'templates', 'images'), join(dir, 'templates', 'images'), { recursive: true });
  cpSync(join(REPO, 'templates', 'web.local.yaml'), join(dir, 'templates', 'web.local.yaml'));
  for (const [name, text] of Object.entries(opts.templates ?? {})) writeFileSync(join(dir, 'templates', name), text);
  for (const [name, text] of Object.entries(opts.policies)) writeFileSync(join(dir, 'policies', name), text);
  if (opts.config !== undefined) writeFileSync(join(dir, 'gridhost.yaml'), opts.config);
  return dir;
}

export async function startGridhost(opts: StartOptions): Promise<GridhostProcess> {
  const dir = workspace(opts);
  const apiPort = await freePort();
  const argv = [process.execPath, join(REPO, 'bin', 'gridhost.js'), 'run'];
  // `ip netns exec` execs the command: the child's PID is gridhost's own, signals reach it.
  const [cmd, ...args] = opts.netns !== undefined ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
  const child = spawn(cmd!, args, {
    cwd: dir,
    env: {
      ...process.env,
      GRIDHOST_API_LISTEN: `127.0.0.1:${apiPort}`,
      GRIDHOST_POLICIES_DIR: join(dir, 'policies'),
      GRIDHOST_TEMPLATES_DIR: join(dir, 'templates'),
      GRIDHOST_DATA_DIR: join(dir, 'data'),
      GRIDHOST_LOG_FORMAT: 'json',
      GRIDHOST_LOG_LEVEL: 'debug',
      // A crashed gridhost's pools are taken up by the next one when its lease runs out.
      GRIDHOST_LEASE: '5s',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        logs.push(JSON.parse(line));
      } catch {
        stderr.push(`stdout (not JSON): ${line}`);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const bridge = opts.netns !== undefined ? await bridgeIntoNetns(opts.netns, '127.0.0.1', apiPort) : undefined;
  const api = bridge?.url ?? `http://127.0.0.1:${apiPort}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  // A start that fails must not leave gridhost (or the guests it launched) running.
  const abandon = async (why: string): Promise<never> => {
    await bridge?.stop();
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    killGuests(join(dir, 'data', 'guests'));
    throw new Error(why);
  };
  for (;;) {
    if (child.exitCode !== null) await abandon(`gridhost exited early (${child.exitCode}): ${stderr.join('')}`);
    try {
      const r = await getJson(`${api}/healthz`);
      if (r.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) await abandon(`gridhost API did not come up within ${opts.startTimeoutMs ?? 30_000} ms: ${stderr.join('')}`);
    await sleep(100);
  }
  return {
    dir, apiPort, api, logs, stderr, child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      await bridge?.stop();
      return code;
    },
    cleanup() {
      killGuests(join(dir, 'data', 'guests'));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The gridhosts one test starts, on one workspace or several: at the test's teardown each is
 *  SIGKILLed, then the guests and any process left under each workspace (and `dirs`) are killed
 *  and the workspace is removed. */
export function gridhostsOf(t: { teardown(fn: () => Promise<void>): void }, ...dirs: string[]) {
  const started: GridhostProcess[] = [];
  t.teardown(async () => {
    for (const gh of started) await gh.stop('SIGKILL');
    for (const dir of new Set([...dirs, ...started.map((gh) => gh.dir)])) {
      killGuests(join(dir, 'data', 'guests'));
      killProcessesUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return {
    started,
    async start(opts: StartOptions): Promise<GridhostProcess> {
      const gh = await startGridhost(opts);
      started.push(gh);
      return gh;
    },
  };
}

/** The holder id a gridhost announced in its "gridhost ready" line (undefined before it). */
export const holderOf = (gh: GridhostProcess): string | undefined =>
  gh.logs.find((l) => l.msg === 'gridhost ready')?.holder as string | undefined;

/** Guests are detached so gridhost can restart and adopt them; a test must kill them itself. */
export function killGuests(guestsDir: string): number {
  let killed = 0;
  if (!existsSync(guestsDir)) return 0;
  for (const pool of readdirSync(guestsDir)) {
    for (const id of readdirSync(join(guestsDir, pool))) {
      const rec = join(guestsDir, pool, id, 'guest.json');
      if (!existsSync(rec)) continue;
      const { pid } = JSON.parse(readFileSync(rec, 'utf8')) as { pid: number };
      try {
        process.kill(-pid, 'SIGKILL');
        killed++;
      } catch {
        /* already gone */
      }
    }
  }
  return killed;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}, retried = false): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const method = opts.method ?? 'GET';
    const req = http.request(url, { method, headers: opts.headers, agent, timeout: opts.timeoutMs ?? 10_000 }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed as idle just as it was reused: the request never
      // reached the server, so a GET is sent once more, as Node's docs advise (req.reusedSocket).
      if (!retried && req.reusedSocket && e.code === 'ECONNRESET' && (method === 'GET' || method === 'HEAD')) {
        request(url, opts, true).then(res, rej);
        return;
      }
      rej(e);
    });
    req.end(opts.body);
  });
}

export async function getJson(url: string): Promise<{ status: number; json: any }> {
  const r = await request(url);
  return { status: r.status, json: JSON.parse(r.body) };
}

/** Closed-loop load: `concurrency` workers each sending requests back to back until stopped. */
export function closedLoopLoad(url: string, concurrency: number) {
  let running = true;
  const stats = { ok: 0, failed: 0, errors: [] as string[] };
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const r = await request(url);
        if (r.status === 200) stats.ok++;
        else {
          stats.failed++;
          stats.errors.push(`${r.status} ${r.body.slice(0, 200)}`);
        }
      } catch (e) {
        stats.failed++;
        stats.errors.push(String(e));
      }
    }
  });
  return { stats, stop: async () => { running = false; await Promise.all(workers); } };
}

/** Open-loop load: one request every `everyMs`, until stopped. */
export function openLoopLoad(url: string, everyMs: number) {
  let running = true;
  const stats = { ok: 0, failed: 0, errors: [] as string[] };
  const inflight = new Set<Promise<void>>();
  const loop = (async () => {
    while (running) {
      const p: Promise<void> = request(url).then(
        (r) => { if (r.status === 200) stats.ok++; else { stats.failed++; stats.errors.push(`${r.status} ${r.body.slice(0, 200)}`); } },
        (e) => { stats.failed++; stats.errors.push(String(e)); },
      ).finally(() => inflight.delete(p));
      inflight.add(p);
      await sleep(everyMs);
    }
  })();
  return { stats, stop: async () => { running = false; await loop; await Promise.all(inflight); } };
}

// ---- helpers for the robustness tests (processes, clones, log lines, the CLI as a child)

/** True when `pid` is a live process (not a zombie); with `startTime`, only that very process. */
export function processAlive(pid: number, startTime?: number): boolean {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X' || f[0] === 'x') return false;
  return startTime === undefined || Number(f[19]) === startTime;
}

/** Live processes whose working directory is `dir` or below it (guests run in their clone). */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  const root = resolve(dir);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${name}/cwd`);
    } catch {
      continue;
    }
    if ((cwd === root || cwd.startsWith(`${root}/`)) && processAlive(Number(name))) out.push(Number(name));
  }
  return out;
}

/** Clone directories of a pool under `<dir>/data/guests/<pool>/`. */
export function cloneDirs(dir: string, pool: string): string[] {
  const root = join(dir, 'data', 'guests', pool);
  if (!existsSync(root)) return [];
  return readdirSync(root).map((id) => join(root, id));
}

export interface GuestFileRecord { id: string; pid: number; startTime: number; clonePath: string }

/** The guest.json of each clone of a pool that has booted. */
export function guestRecords(dir: string, pool: string): GuestFileRecord[] {
  const out: GuestFileRecord[] = [];
  for (const clone of cloneDirs(dir, pool)) {
    const file = join(clone, 'guest.json');
    if (!existsSync(file)) continue;
    try {
      out.push(JSON.parse(readFileSync(file, 'utf8')) as GuestFileRecord);
    } catch {
      /* being written */
    }
  }
  return out;
}

/** Poll `fn` until it returns something other than undefined/false; throws after `timeoutMs`. */
export async function waitUntil<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Run bin/gridhost.js with `args` as a child; resolves with its exit code and output. */
export function runCli(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'gridhost.js'), ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', rej);
    child.once('close', (code) => res({ code, stdout, stderr }));
  });
}

/** Last-resort cleanup: SIGKILL the process group of every live process running under `dir`
 *  (catches guests whose clone, and so whose guest.json, is already gone). */
export function killProcessesUnder(dir: string): number {
  let killed = 0;
  for (const pid of processesUnder(dir)) {
    try {
      process.kill(-pid, 'SIGKILL');
      killed++;
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        /* already gone */
      }
    }
  }
  return killed;
}
