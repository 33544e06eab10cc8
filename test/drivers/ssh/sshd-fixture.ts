// A real OpenSSH sshd on 127.0.0.1 for tests: fresh host and user keys in a temp dir, an
// ephemeral port, started with `sshd -D -e`. Needs /usr/sbin/sshd (Debian: openssh-server).
// Reusable: `const sshd = await startSshd(); ... await sshd.dispose();`
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SSHD_PATH = '/usr/sbin/sshd';

export interface SshdFixture {
  port: number;
  user: string;
  /** Client private key (OpenSSH format). */
  privateKeyPath: string;
  privateKey: Buffer;
  /** `SHA256:...` of the host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** Fingerprint of a different key: pin it to see a mismatch. */
  otherFingerprint: string;
  dir: string;
  /** What sshd wrote to stderr so far (for failure messages). */
  logs(): string;
  /** Stop sshd and every session it forked (connections drop). */
  stop(): Promise<void>;
  /** Start it again on the same port with the same keys. */
  start(): Promise<void>;
  dispose(): Promise<void>;
}

export interface SshdOptions {
  /** sshd MaxSessions: channels allowed per connection (OpenSSH default 10). */
  maxSessions?: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function fingerprint(pubPath: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-lf', pubPath, '-E', 'sha256']);
  const fp = stdout.split(' ')[1];
  if (!fp?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${stdout}`);
  // Cross-check against our own computation so the fixture cannot drift from OpenSSH's format.
  const blob = Buffer.from(readFileSync(pubPath, 'utf8').split(' ')[1] ?? '', 'base64');
  const ours = 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  if (ours !== fp) throw new Error(`fingerprint mismatch: ssh-keygen ${fp}, computed ${ours}`);
  return fp;
}

/** Every descendant pid of `pid` (sessions forked by sshd), found through /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export async function startSshd(opts: SshdOptions = {}): Promise<SshdFixture> {
  if (!existsSync(SSHD_PATH)) throw new Error(`${SSHD_PATH} is missing: install openssh-server (apt-get install openssh-server)`);
  // sshd refuses to start without its privilege separation directory.
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-sshd-'));
  const hostKey = join(dir, 'host_ed25519');
  const userKey = join(dir, 'id_ed25519');
  const otherKey = join(dir, 'other_ed25519');
  for (const k of [hostKey, userKey, otherKey]) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'gridhost-test', '-f', k]);
  }
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`), { mode: 0o600 });
  const port = await freePort();
  const user = userInfo().username;
  const cfg = join(dir, 'sshd_config');
  writeFileSync(
    cfg,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      `MaxSessions ${opts.maxSessions ?? 10}`,
      // bash skips ~/.bashrc when SHLVL says it is nested; otherwise a login shell started by
      // sshd sources it, and a heavy .bashrc (pyenv init) costs seconds per command.
      'SetEnv SHLVL=5',
      'LogLevel INFO',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let log = '';

  const start = async (): Promise<void> => {
    // Through a tiny sh watchdog: when this process dies without stop() (a crash, an ava
    // timeout), its pipe closes and the watchdog kills sshd and removes the temp dir, so a
    // failed run leaves neither behind. stop() says "stop" first: the dir is kept for start().
    const script = '"$0" -D -e -f "$1" </dev/null & p=$!; read cmd; kill "$p"; wait "$p"; [ "$cmd" = stop ] || rm -rf -- "$2"';
    const proc = spawn('/bin/sh', ['-c', script, SSHD_PATH, cfg, dir], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        log += d.toString();
        if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
          resolve();
        }
      };
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`sshd exited with ${code} before listening:\n${log}`)));
      proc.once('error', reject);
    });
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc?.pid || proc.exitCode !== null) return;
    const kill = (pid: number): void => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    // Sessions first, and wait until their parent sshd has reaped them: orphaned zombies would
    // be left to a pid 1 that may never reap them (containers).
    const [, ...sessions] = descendants(proc.pid);
    for (const pid of sessions.reverse()) {
      kill(pid);
      for (let i = 0; i < 40 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 25));
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // The watchdog kills sshd and reaps it.
    proc.stdin?.end('stop\n');
    await exited;
  };

  await start();
  return {
    port,
    user,
    privateKeyPath: userKey,
    privateKey: readFileSync(userKey),
    hostKeyFingerprint: await fingerprint(`${hostKey}.pub`),
    otherFingerprint: await fingerprint(`${otherKey}.pub`),
    dir,
    logs: () => log,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
