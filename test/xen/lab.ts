// The project's Xen lab for tests: a real Xen 4.17 hypervisor + Debian dom0 booted in QEMU/TCG
// (scripts/xen-lab/, see its README.md). Stable API, used by the xl driver's tests:
//
//   const lab = await startLab({ stores: ['xfs'] });   // build (cached) + boot: ~15-120 s
//   t.teardown(() => lab.stop());                       // ALWAYS: QEMU eats the shared CPUs
//   lab.host / lab.port / lab.username                  // dom0 sshd on 127.0.0.1:<port>, root
//   lab.privateKey / lab.privateKeyPath                 // the lab's client key (ed25519)
//   lab.fingerprint                                     // "SHA256:..." of dom0's host key (pin it)
//   lab.ssh2Config()                                    // ssh2 ConnectConfig that verifies it
//   await lab.ssh('xl list')                            // {code, stdout, stderr}; never rejects on exit code
//   await lab.sshOk('xl info')                          // stdout; rejects on a non-zero exit
//   await lab.http('192.168.100.11', '/healthz')        // HTTP GET from dom0 (busybox nc): {status, body}
//   const fwd = await lab.forward('192.168.100.11', 80) // 127.0.0.1:fwd.port -> guest, over SSH
//   await fwd.close()
//   await lab.ensureStores('xfs', 'lvm')                // reflink store / LVM VG on demand
//
// Facts of the lab (all in lab.env too):
//   guest kernel lab.guestKernel, ramdisk lab.guestRamdisk (PV, `type = "pv"`),
//   base image lab.baseImage in lab.imagesDir (tmpfs at boot: clone `copy`; after
//   ensureStores('xfs') an XFS reflink=1 mount: clone `reflink`), LV lab.baseLv after
//   ensureStores('lvm') (clone `lvm-snapshot`: lvcreate -s -L 16M -n NAME gridhost/base),
//   qemu-img and qemu-nbd in dom0 (clone `qcow2`; blkback needs a block device: qemu-nbd -c).
//   Guests: bridge lab.bridge (xenbr0) on lab.guestNet 192.168.100.0/24, dom0 is .1; a guest
//   takes its address from its xl.cfg: extra = "... guestname=NAME guestip=192.168.100.N"
//   (optional: workms=N default CPU per request, unhealthy=1 for a guest whose /healthz is 503).
//   Guest HTTP (port 80): /healthz, /metrics (JSON rps/inflight/requests_total/cpu_seconds),
//   anything else burns ?ms=N of CPU. dom0 root runs bash (real cp, losetup, lvm, qemu-img).
//
// Env: GRIDHOST_LAB_ENV=/path/lab.env attaches to a lab already booted with boot.sh (stop() then
// leaves it running); GRIDHOST_LAB_CACHE moves the build cache (default /var/cache/gridhost-xen-lab).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, type ConnectConfig } from 'ssh2';

/** GRIDHOST_XEN_E2E_SLOW: a multiplier of every wait in the lab tests (a loaded machine). */
export const LAB_SLOW = Math.max(1, Number(process.env.GRIDHOST_XEN_E2E_SLOW ?? 1));
/** `seconds` of a lab test's wait, in ms, times LAB_SLOW. */
export const labMs = (seconds: number): number => Math.round(seconds * LAB_SLOW * 1000);

export const LAB_SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'xen-lab');

export type LabStore = 'xfs' | 'lvm';

export interface LabOptions {
  /** Image stores to make after boot (each costs seconds to a minute of emulated CPU). */
  stores?: LabStore[];
  /** Host port for dom0:22 (default: 2222 if free, else an ephemeral one). */
  sshPort?: number;
  /** Boot timeout in seconds (default 300: the 2 shared cores are often busy). */
  bootTimeoutS?: number;
  /** Progress lines (build/boot logs). */
  log?: (line: string) => void;
  /**
   * Join the guests' bridge to this network namespace (made if missing; removed by stop() then):
   * processes run in it with `ip netns exec NAME ...` reach the domUs and dom0's sshd
   * (lab.routed.dom0Address) directly, as a balancer on a routed guest network would.
   */
  netns?: string;
  /** The environment variable naming a lab already booted to attach to (default GRIDHOST_LAB_ENV;
   *  a test with two labs gives the second its own, e.g. GRIDHOST_LAB_ENV2). */
  attachVar?: string;
}

/** The namespace side of the guest network (startLab({ netns })). */
export interface LabRouted {
  netns: string;
  /** The namespace's own address on the guests' network. */
  address: string;
  /** dom0 on the guests' network: its sshd answers here too. */
  dom0Address: string;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HttpResult {
  status: number;
  body: string;
}

export interface Forward {
  /** Local port on 127.0.0.1 forwarded to the target through dom0's SSH. */
  port: number;
  close(): Promise<void>;
}

export interface Lab {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKeyPath: string;
  readonly privateKey: Buffer;
  /** "SHA256:<base64>" of dom0's host key, as `ssh-keygen -lf` prints it. */
  readonly fingerprint: string;
  /** dom0's host public key, OpenSSH one-line format. */
  readonly hostKeyPub: string;
  readonly knownHostsPath: string;
  readonly runDir: string;
  readonly pid: number;
  readonly bootSeconds: number;
  readonly guestKernel: string;
  readonly guestRamdisk: string;
  readonly imagesDir: string;
  readonly baseImage: string;
  readonly baseLv: string;
  readonly bridge: string;
  readonly guestNet: string;
  readonly guestGateway: string;
  /** Set when the lab was booted with a network namespace on the guests' bridge. */
  readonly routed?: LabRouted;
  /** Every KEY=VALUE of lab.env. */
  readonly env: Readonly<Record<string, string>>;
  ssh(command: string, opts?: { timeoutMs?: number; input?: string }): Promise<SshResult>;
  sshOk(command: string, opts?: { timeoutMs?: number; input?: string }): Promise<string>;
  http(ip: string, path: string, port?: number): Promise<HttpResult>;
  forward(ip: string, port: number): Promise<Forward>;
  ssh2Config(): ConnectConfig;
  ensureStores(...stores: LabStore[]): Promise<string>;
  /** Stop QEMU (by its PID) and remove the run dir. Idempotent. */
  stop(): Promise<void>;
}

/** Quote one word for a POSIX shell. */
export function shq(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** "SHA256:..." of an SSH public key blob (the format ssh-keygen -lf prints). */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; input?: string; log?: (l: string) => void }): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env: opts.env ?? process.env, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      if (e && (typeof e.code !== 'number' || e.killed)) {
        reject(new Error(`${file} ${args.join(' ')}: ${e.killed ? `timed out after ${opts.timeoutMs} ms` : e.message}\n${stderr}`));
        return;
      }
      resolve({ code: e ? Number(e.code) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.log) child.stderr?.on('data', (d: Buffer) => { for (const l of String(d).split('\n')) if (l) opts.log?.(l); });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

function need(env: Record<string, string>, key: string): string {
  const v = env[key];
  if (!v) throw new Error(`lab.env has no ${key}`);
  return v;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HTTP_PATH = /^\/[A-Za-z0-9._~\/?=&%+-]*$/;

/** gridhost.yaml naming the lab's dom0 (pinned to `fingerprint`, by default its real host key). */
export function gridhostDom0Yaml(lab: Lab, fingerprint = lab.fingerprint): string {
  return `dom0s:
  - name: lab
    address: ${lab.host}
    port: ${lab.port}
    private_key_path: ${lab.privateKeyPath}
    host_key_fingerprint: ${fingerprint}
`;
}

/** Everything gridhost could leave on the lab's dom0, sorted: its domains (`domain NAME`),
 *  rendered configs (`cfg FILE`) and clones (`image FILE`, the base image excepted). */
export async function gridhostLeftovers(lab: Lab, cfgDir = '/etc/xen/gridhost'): Promise<string[]> {
  const out = await lab.sshOk(
    `xl list | awk 'NR>1 {print "domain " $1}' | grep -v '^domain Domain-0$'; ls ${cfgDir} 2>/dev/null | sed 's/^/cfg /'; ls ${lab.imagesDir} | grep -vx base.img | sed 's/^/image /'; true`,
  );
  return out.split('\n').filter((l) => l.trim() !== '').sort();
}

/** What gridhostLeftovers() lists for exactly these guests: domain, rendered config, clone. */
export function leftoversOf(ids: readonly string[]): string[] {
  return ids.flatMap((id) => [`domain gh-${id}`, `cfg ${id}.cfg`, `image ${id}.img`]).sort();
}

/** A test's teardown: destroy every gridhost domain, remove the rendered configs and memory
 *  reservations and every clone (gridhost leaves guests running on purpose), so an attached lab
 *  is clean for the next test. Never throws. */
export async function removeGridhostGuests(lab: Lab, cfgDir = '/etc/xen/gridhost'): Promise<void> {
  await lab.ssh(`for d in $(xl list | awk 'NR>1 && $1 ~ /^gh-/ {print $1}'); do xl destroy $d; done; rm -f ${cfgDir}/*.cfg ${cfgDir}/*.reserve; cd ${lab.imagesDir} && ls | grep -vx base.img | xargs -r rm -f`, { timeoutMs: 300_000 }).catch(() => undefined);
}

/** This process and its ancestors up to (not including) init: the lab lives only while all do. */
export function ownerPids(): number[] {
  const pids: number[] = [];
  for (let pid = process.pid; pid > 1 && pids.length < 32;) {
    pids.push(pid);
    try {
      // Field 4 of /proc/PID/stat, after the command name in parentheses (which may hold spaces).
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return pids;
}

/** Build (cached) and boot a lab, or attach to GRIDHOST_LAB_ENV. */
export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const log = opts.log;
  let envText: string;
  let owned = true;
  const attach = process.env[opts.attachVar ?? 'GRIDHOST_LAB_ENV'];
  if (attach) {
    envText = readFileSync(attach, 'utf8');
    owned = false;
  } else {
    const build = await run('bash', [join(LAB_SCRIPTS, 'build.sh')], { timeoutMs: 20 * 60_000, log });
    if (build.code !== 0) throw new Error(`xen-lab build.sh failed (exit ${build.code}):\n${build.stderr.slice(-4000)}`);
    const labBuild = parseEnv(build.stdout).LAB_BUILD;
    if (!labBuild) throw new Error(`xen-lab build.sh printed no LAB_BUILD:\n${build.stdout}`);
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env, LAB_BUILD: labBuild, LAB_BOOT_TIMEOUT: String(opts.bootTimeoutS ?? 300),
      // A runner killed from outside (SIGKILL, a timeout) runs no teardown: boot.sh's watchdog
      // stops the lab when this process or any of its ancestors is gone.
      LAB_OWNER_PIDS: ownerPids().join(' '),
    };
    if (opts.netns) childEnv.LAB_NETNS = opts.netns;
    else delete childEnv.LAB_NETNS;
    if (opts.sshPort) childEnv.LAB_SSH_PORT = String(opts.sshPort);
    else delete childEnv.LAB_SSH_PORT;
    // The run dir is chosen here so that a boot that fails or times out can still be stopped.
    const cache = process.env.GRIDHOST_LAB_CACHE || '/var/cache/gridhost-xen-lab';
    mkdirSync(join(cache, 'run'), { recursive: true });
    const runDir = mkdtempSync(join(cache, 'run', 'lab.'));
    childEnv.LAB_RUN_DIR = runDir;
    let boot: SshResult;
    try {
      boot = await run('bash', [join(LAB_SCRIPTS, 'boot.sh')], { env: childEnv, timeoutMs: ((opts.bootTimeoutS ?? 300) + 120) * 1000, log });
      if (boot.code !== 0) throw new Error(`xen-lab boot.sh failed (exit ${boot.code}):\n${boot.stderr.slice(-4000)}`);
    } catch (err) {
      await run('bash', [join(LAB_SCRIPTS, 'stop.sh'), runDir], { timeoutMs: 60_000 }).catch(() => undefined);
      throw err;
    }
    envText = boot.stdout;
  }
  const env = parseEnv(envText);
  const lab = makeLab(env, owned);
  if (owned) {
    // Last resort if the test process dies without teardown: never leave QEMU running.
    const onExit = (): void => { try { process.kill(lab.pid, 'SIGKILL'); } catch { /* gone */ } };
    process.once('exit', onExit);
    const stop = lab.stop.bind(lab);
    (lab as { stop: () => Promise<void> }).stop = async () => { process.off('exit', onExit); await stop(); };
  }
  try {
    if (opts.stores?.length) await lab.ensureStores(...opts.stores);
  } catch (err) {
    await lab.stop();
    throw err;
  }
  return lab;
}

function makeLab(env: Record<string, string>, owned: boolean): Lab {
  const host = need(env, 'LAB_SSH_HOST');
  const port = Number(need(env, 'LAB_SSH_PORT'));
  const privateKeyPath = need(env, 'LAB_KEY');
  const privateKey = readFileSync(privateKeyPath);
  const knownHostsPath = need(env, 'LAB_KNOWN_HOSTS');
  const runDir = need(env, 'LAB_RUN_DIR');
  const fingerprint = need(env, 'LAB_FINGERPRINT');
  const sshArgs = ['-q', '-i', privateKeyPath, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${knownHostsPath}`,
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', '-p', String(port), `root@${host}`];
  let stopped = false;

  const ssh = (command: string, o: { timeoutMs?: number; input?: string } = {}): Promise<SshResult> =>
    run('ssh', [...sshArgs, command], { timeoutMs: o.timeoutMs ?? 120_000, input: o.input });

  const sshOk = async (command: string, o: { timeoutMs?: number; input?: string } = {}): Promise<string> => {
    const r = await ssh(command, o);
    if (r.code !== 0) throw new Error(`dom0 \`${command}\` exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  };

  const ssh2Config = (): ConnectConfig => ({
    host,
    port,
    username: 'root',
    privateKey,
    readyTimeout: 30_000,
    hostVerifier: (key: Buffer) => sshFingerprint(key) === fingerprint,
  });

  return {
    host,
    port,
    username: need(env, 'LAB_SSH_USER'),
    privateKeyPath,
    privateKey,
    fingerprint,
    hostKeyPub: readFileSync(need(env, 'LAB_HOST_KEY_PUB'), 'utf8').trim(),
    knownHostsPath,
    runDir,
    pid: Number(need(env, 'LAB_PID')),
    bootSeconds: Number(env.LAB_BOOT_SECONDS ?? 'NaN'),
    guestKernel: need(env, 'LAB_GUEST_KERNEL'),
    guestRamdisk: need(env, 'LAB_GUEST_RAMDISK'),
    imagesDir: need(env, 'LAB_IMAGES_DIR'),
    baseImage: need(env, 'LAB_BASE_IMAGE'),
    baseLv: need(env, 'LAB_BASE_LV'),
    bridge: need(env, 'LAB_BRIDGE'),
    guestNet: need(env, 'LAB_GUEST_NET'),
    guestGateway: need(env, 'LAB_GUEST_GW'),
    ...(env.LAB_NETNS ? { routed: { netns: env.LAB_NETNS, address: need(env, 'LAB_NETNS_ADDR'), dom0Address: need(env, 'LAB_DOM0_GUEST_ADDR') } } : {}),
    env,
    ssh,
    sshOk,
    ssh2Config,

    async http(ip: string, path: string, httpPort = 80): Promise<HttpResult> {
      if (!IPV4.test(ip)) throw new Error(`not an IPv4 address: ${ip}`);
      if (!HTTP_PATH.test(path)) throw new Error(`unsupported HTTP path: ${path}`);
      const req = `GET ${path} HTTP/1.0\r\nHost: ${ip}\r\n\r\n`;
      const r = await ssh(`nc -w 10 ${shq(ip)} ${Number(httpPort)}`, { input: req, timeoutMs: 60_000 });
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(r.stdout);
      if (!m) return { status: 0, body: r.stdout };
      const sep = r.stdout.indexOf('\r\n\r\n');
      return { status: Number(m[1]), body: sep >= 0 ? r.stdout.slice(sep + 4) : '' };
    },

    async forward(ip: string, targetPort: number): Promise<Forward> {
      const client = new Client();
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('error', reject);
        client.connect(ssh2Config());
      });
      client.on('error', () => { /* reported per stream */ });
      const sockets = new Set<Socket>();
      const server: Server = createServer((sock) => {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => sock.destroy());
        client.forwardOut('127.0.0.1', 0, ip, targetPort, (err, stream) => {
          if (err) { sock.destroy(); return; }
          stream.on('error', () => sock.destroy());
          sock.pipe(stream).pipe(sock);
          sock.on('close', () => stream.close());
        });
      });
      await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
      const addr = server.address();
      const localPort = typeof addr === 'object' && addr ? addr.port : 0;
      return {
        port: localPort,
        async close() {
          for (const s of sockets) s.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          client.end();
        },
      };
    },

    async ensureStores(...stores: LabStore[]): Promise<string> {
      for (const s of stores) if (s !== 'xfs' && s !== 'lvm') throw new Error(`unknown lab store ${String(s)}`);
      return sshOk(`lab-stores ${stores.join(' ')}`, { timeoutMs: 600_000 });
    },

    async stop(): Promise<void> {
      if (stopped || !owned) return;
      stopped = true;
      const r = await run('bash', [join(LAB_SCRIPTS, 'stop.sh'), runDir], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`xen-lab stop.sh failed: ${r.stderr}`);
    },
  };
}
