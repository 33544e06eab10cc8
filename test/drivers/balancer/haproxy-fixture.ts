// A real HAProxy 2.6 (Debian's package) for tests: its own config, stats socket and pid in a
// temp dir, frontends on loopback ports picked here, started in master-worker mode so that it
// can be reloaded (SIGUSR2) like systemd does; stopped by its PID.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaproxyRuntime } from '../../../src/drivers/balancer/haproxy/runtime-api.ts';
import { parseSocketAddress } from '../../../src/drivers/balancer/haproxy/runtime-socket.ts';

export const HAPROXY_BIN = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy';

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

export interface HaproxyOptions {
  /** Backends (each gets a frontend on its own port). Default ['web']. */
  backends?: string[];
  /** Lines added inside each backend (static servers, options). */
  backendLines?: Record<string, string[]>;
  /** `unix` (default) or `tcp` admin socket. */
  socket?: 'unix' | 'tcp';
  /** Level of the socket gridhost is given. Default admin. */
  level?: 'admin' | 'operator' | 'user';
  /** Unix socket file mode. Default 600. */
  mode?: string;
  /** Where the unix socket goes (default: in the fixture's temp dir). */
  socketPath?: string;
  /** Run HAProxy inside this network namespace (`ip netns exec`; its frontends bind there). */
  netns?: string;
  /** Replace the generated config entirely: called with the paths and ports chosen. */
  config?: (p: { dir: string; socketLine: string; ports: Record<string, number> }) => string;
}

export interface HaproxyFixture {
  dir: string;
  /** What gridhost.yaml's haproxy.socket would say. */
  socket: string;
  /** An admin runtime client for the test's own checks (independent of the driver). */
  admin: HaproxyRuntime;
  /** backend -> its frontend's host:port. */
  frontends: Record<string, string>;
  cfgPath: string;
  masterPid(): number;
  /** The current worker's PID (from `show info`). */
  workerPid(): Promise<number>;
  /** Reload like `systemctl reload haproxy` (master-worker SIGUSR2); resolves when a new worker answers. */
  reload(): Promise<void>;
  /** Rewrite haproxy.cfg (for a later reload). */
  writeConfig(text: string): void;
  log(): string;
  stop(): Promise<void>;
}

function render(o: Required<Pick<HaproxyOptions, 'backends'>> & HaproxyOptions, dir: string, socketLine: string, ports: Record<string, number>): string {
  const parts = [
    'global',
    `    ${socketLine}`,
    `    stats socket ${join(dir, 'admin-for-tests.sock')} mode 600 level admin`,
    '    stats timeout 30s',
    `    pidfile ${join(dir, 'haproxy.pid')}`,
    '',
    'defaults',
    '    mode http',
    '    timeout connect 2s',
    '    timeout client 30s',
    '    timeout server 30s',
    '    timeout check 2s',
    '    option redispatch',
    '    retries 3',
    '',
  ];
  for (const b of o.backends) {
    parts.push(`frontend fe_${b}`, `    bind 127.0.0.1:${ports[b]}`, `    default_backend ${b}`, '');
    parts.push(`backend ${b}`, '    balance roundrobin', '    option httpchk GET /healthz', ...(o.backendLines?.[b] ?? []).map((l) => `    ${l}`), '');
  }
  return parts.join('\n');
}

export async function startHaproxy(opts: HaproxyOptions = {}): Promise<HaproxyFixture> {
  const o = { backends: ['web'], ...opts };
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-haproxy-'));
  const ports: Record<string, number> = {};
  for (const b of o.backends) ports[b] = await freePort();
  let socket: string;
  let socketLine: string;
  const level = o.level ?? 'admin';
  if (o.socket === 'tcp') {
    const port = await freePort();
    socket = `127.0.0.1:${port}`;
    socketLine = `stats socket ipv4@127.0.0.1:${port} level ${level}`;
  } else {
    socket = o.socketPath ?? join(dir, 'gridhost.sock');
    socketLine = `stats socket ${socket} mode ${o.mode ?? '600'} level ${level}`;
  }
  const cfgPath = join(dir, 'haproxy.cfg');
  writeFileSync(cfgPath, o.config ? o.config({ dir, socketLine, ports }) : render(o, dir, socketLine, ports));
  // `ip netns exec` execs HAProxy: the child's PID is the master's own.
  const inNs = (argv: string[]): [string, string[]] => (o.netns !== undefined ? ['ip', ['netns', 'exec', o.netns, ...argv]] : [argv[0]!, argv.slice(1)]);
  execFileSync(...inNs([HAPROXY_BIN, '-c', '-q', '-f', cfgPath]));
  const logChunks: string[] = [];
  const child: ChildProcess = spawn(...inNs([HAPROXY_BIN, '-W', '-db', '-f', cfgPath]), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => logChunks.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => logChunks.push(d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const admin = new HaproxyRuntime(parseSocketAddress(join(dir, 'admin-for-tests.sock'))!, { timeoutMs: 10_000 });
  const workerPid = async (): Promise<number> => (await admin.info()).pid;
  const waitWorker = async (not?: number, withinMs = 30_000): Promise<number> => {
    const deadline = Date.now() + withinMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}): ${logChunks.join('')}`);
      try {
        const pid = await workerPid();
        if (pid !== not) return pid;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new Error(`haproxy did not answer on its stats socket: ${logChunks.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await waitWorker();
    // The master acts on a reload signal only once it has seen its first worker start.
    const ready = Date.now() + 30_000;
    while (!logChunks.join('').includes('Loading success') && Date.now() < ready) await new Promise((r) => setTimeout(r, 20));
  } catch (e) {
    // Never leave a HAProxy behind that did not come up.
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const frontends = Object.fromEntries(o.backends.map((b) => [b, `127.0.0.1:${ports[b]}`]));
  return {
    dir, socket, admin, frontends, cfgPath,
    masterPid: () => child.pid!,
    workerPid,
    async reload() {
      const before = await workerPid();
      // A master busy with a reload ignores another signal: ask again if no new worker comes.
      for (let i = 0; ; i++) {
        process.kill(child.pid!, 'SIGUSR2');
        try {
          await waitWorker(before, i < 2 ? 5000 : 30_000);
          return;
        } catch (e) {
          if (i >= 2) throw e;
        }
      }
    },
    writeConfig(text: string) {
      writeFileSync(cfgPath, text);
    },
    log: () => logChunks.join(''),
    async stop() {
      let worker: number | undefined;
      try {
        worker = await workerPid();
      } catch {
        /* already gone */
      }
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      // The master stops its workers; make sure, by PID, that none outlives it.
      if (worker !== undefined && ownWorker(worker, cfgPath)) process.kill(worker, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True while `pid` is a haproxy started with our config (a PID is never killed on its number alone). */
function ownWorker(pid: number, cfgPath: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(cfgPath);
  } catch {
    return false;
  }
}

/** The config text of a running fixture (for tests that rewrite and reload it). */
export function readConfig(f: HaproxyFixture): string {
  return readFileSync(f.cfgPath, 'utf8');
}
