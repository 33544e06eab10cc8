// The xl driver against the Xen lab (issue 3, "Figures"): seconds per guest for clone, xl create,
// boot to healthy, shutdown+destroy and deleteClone; SSH commands and handshakes per sampling
// tick; and clone time per method for the lab's 16 MB base image and a 10x larger one, to show
// which methods are O(1); and (d) the warm pool's unpause to serving against a cold clone and
// boot (xen-warm-bench.ts); (e) a vertical step (xl vcpu-set to the vCPU online in the guest)
// against a new guest's clone-to-serving (xen-vertical-bench.ts). Boots its own lab (2-6 min on a busy machine) and always stops it.
// Run: npm run bench:xen   (also the last section of `npm run bench`; npx tsx scripts/bench/xen-bench.ts)
// Env: GRIDHOST_BENCH_XEN_GUESTS (default 3), GRIDHOST_BENCH_XEN_REPEATS (clone repeats, default 3),
// GRIDHOST_LAB_ENV attaches to a lab already booted (see scripts/xen-lab/README.md).
import os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type CloneMethod, type Policy } from '../../src/domain/policy.ts';
import type { Guest } from '../../src/domain/types.ts';
import type { SshCounters } from '../../src/drivers/ssh/ssh-connection.ts';
import { clonePlan } from '../../src/drivers/xen/clone-commands.ts';
import { createXenDrivers, type XenDrivers } from '../../src/drivers/xen/create-xen-drivers.ts';
import { startLab, type Lab } from '../../test/xen/lab.ts';
import { warmVsCold } from './xen-warm-bench.ts';
import { verticalVsCold } from './xen-vertical-bench.ts';

const HOST = 'lab';
const CFG_DIR = '/etc/xen/gridhost';
const POOL = 'xb';
/** A directory on dom0's tmpfs store: the lab's boot-time kind of store, where cp must move bytes. */
const STORE = '/var/lib/xen/store';
const PLAIN = `${STORE}/plain`;
const LARGE_MB = 160;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sec = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');
const load = (): string => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

function table(head: string[], rows: string[][], leftCols = 1): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `  | ${w.map((n, i) => (i < leftCols ? (r[i] ?? '').padEnd(n) : (r[i] ?? '').padStart(n))).join(' | ')} |`;
  return [line(head), `  |${w.map((n, i) => (i < leftCols ? '-'.repeat(n + 2) : `${'-'.repeat(n + 1)}:`)).join('|')}|`, ...rows.map(line)];
}

/** Every SSH command the driver runs, with its start and duration, to split each step by command. */
interface Call {
  label: string;
  start: number;
  ms: number;
}

function label(argv: readonly string[]): string {
  const bin = (argv[0] ?? '').slice((argv[0] ?? '').lastIndexOf('/') + 1);
  if (bin === 'xl') return `xl ${argv[1] ?? ''}${argv[2] === '-l' ? ' -l' : ''}`;
  if (bin === 'sh' || bin === 'bash') {
    const script = argv[2] ?? '';
    if (script.includes('exit 17')) return argv[5] ?? 'clone';
    if (script.includes('cat >')) return 'write cfg';
    if (script.includes('gridhost')) return 'read cfg headers';
    if (script.includes('rm -f')) return 'rm';
  }
  return bin;
}

function recordCalls(d: XenDrivers): Call[] {
  const calls: Call[] = [];
  const exec = d.hosts.exec.bind(d.hosts);
  d.hosts.exec = async (name, argv, o) => {
    const start = performance.now();
    try {
      return await exec(name, argv, o);
    } finally {
      calls.push({ label: label(argv), start, ms: performance.now() - start });
    }
  };
  return calls;
}

/** "xl list -l 2x 1.20 s, xl info 0.90 s": the commands of one step, by label, slowest first (medians over guests). */
function breakdown(perGuest: Call[][]): string {
  const n = perGuest.length;
  const labels = [...new Set(perGuest.flat().map((c) => c.label))];
  const parts = labels.map((l) => {
    const counts = perGuest.map((cs) => cs.filter((c) => c.label === l).length);
    const totals = perGuest.map((cs) => cs.filter((c) => c.label === l).reduce((a, c) => a + c.ms, 0));
    return { l, count: median(counts), ms: median(totals) };
  });
  parts.sort((a, b) => b.ms - a.ms);
  const cmds = median(perGuest.map((cs) => cs.length));
  return `${cmds} SSH commands${n > 1 ? ' (median)' : ''}: ${parts.map((p) => `${p.l}${p.count > 1 ? ` ${p.count}x` : ''} ${sec(p.ms)} s`).join(', ')}`;
}

function template(lab: Lab): string {
  return [
    'name    = {{name}}',
    'uuid    = {{uuid}}',
    'type    = "pv"',
    `kernel  = "${lab.guestKernel}"`,
    `ramdisk = "${lab.guestRamdisk}"`,
    'extra   = "console=hvc0 quiet guestname={{name}} guestip={{ip}}"',
    'memory  = 128',
    'vcpus   = 1',
    `vif     = [ 'bridge=${lab.bridge},mac={{mac}}' ]`,
    "disk    = [ 'format={{format}},vdev=xvda,access=rw,target={{disk}}' ]",
    'on_poweroff = "destroy"',
    'on_crash    = "destroy"',
    '',
  ].join('\n');
}

function policy(templatePath: string, image: string, clone: CloneMethod): Policy {
  return {
    file: templatePath,
    pool: POOL,
    min: 2,
    max: 8,
    guest: { driver: 'xen', template: templatePath, image, clone, healthPath: '/healthz', metricsPath: '/metrics', metrics: ['rps', 'inflight'], bootTimeoutMs: 600_000, stopTimeoutMs: 120_000, drainTimeoutMs: 1_000 },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' },
    sampling: { intervalMs: 5000, windowMs: 60_000 },
    warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    onMissing: 'hold',
    unknownGuests: 'retire',
    rules: [],
    schedules: [],
    breaker: { failures: 3, openMs: 60_000 },
    autoHeal: { ...DEFAULT_AUTO_HEAL },
  };
}

const diff = (a: SshCounters, b: SshCounters): SshCounters => ({ handshakes: a.handshakes - b.handshakes, commands: a.commands - b.commands, forwards: a.forwards - b.forwards });

interface Lifecycle {
  id: string;
  cloneMs: number;
  bootMs: number;
  healthyMs: number;
  shutdownMs: number;
  destroyMs: number;
  deleteMs: number;
  calls: Record<'clone' | 'boot' | 'stop' | 'delete', Call[]>;
}

async function waitHealthy(d: XenDrivers, guest: Guest, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const r = await d.hypervisor.httpGet(guest, '/healthz', 10_000);
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`guest ${guest.id} not healthy within ${timeoutMs / 1000} s: ${last}`);
    await sleep(1000);
  }
}

/** (a) + (b): guests one after another through XenHypervisor, then sampling ticks with all of them up. */
async function lifecycleAndTicks(lab: Lab, d: XenDrivers, calls: Call[], dir: string, n: number, log: (l: string) => void): Promise<string[]> {
  const tpl = join(dir, 'bench.xl.cfg');
  writeFileSync(tpl, template(lab));
  const runs: Lifecycle[] = [];
  const up: Guest[] = [];
  const out: string[] = [];
  const step = async <T>(fn: () => Promise<T>): Promise<[T, number, Call[]]> => {
    const from = calls.length;
    const [v, ms] = await timed(fn);
    return [v, ms, calls.slice(from)];
  };
  try {
    for (let i = 1; i <= n; i++) {
      const spec = { id: `${POOL}-${i}`, pool: POOL, policy: policy(tpl, lab.baseImage, 'reflink') };
      const guest: Guest = { id: spec.id, pool: POOL, state: 'cloning', driver: 'xen', host: HOST, createdAt: Date.now(), updatedAt: Date.now(), meta: {} };
      const [c, cloneMs, cloneCalls] = await step(() => d.hypervisor.clone(spec));
      Object.assign(guest.meta, c.meta);
      guest.address = c.address ?? '';
      up.push(guest);
      const [b, bootMs, bootCalls] = await step(() => d.hypervisor.boot(spec, c.meta));
      Object.assign(guest.meta, b.meta);
      const [, healthyMs] = await timed(() => waitHealthy(d, guest, 600_000));
      runs.push({ id: spec.id, cloneMs, bootMs, healthyMs, shutdownMs: NaN, destroyMs: NaN, deleteMs: NaN, calls: { clone: cloneCalls, boot: bootCalls, stop: [], delete: [] } });
      log(`xen-bench: ${spec.id} healthy (clone ${sec(cloneMs)} s, boot ${sec(bootMs)} s, to healthy ${sec(healthyMs)} s; load ${load()})`);
    }

    // (b) Ticks with every guest up: xentop per dom0, then each guest's /metrics through dom0.
    const TICKS = 5;
    const tick: Array<{ xentop: SshCounters; metrics: SshCounters; xentopMs: number; metricsMs: number; measured: number }> = [];
    for (let k = 0; k < TICKS; k++) {
      const c0 = d.hosts.counters();
      const [m, xentopMs] = await timed(() => d.xentop.sample(up));
      const c1 = d.hosts.counters();
      const [, metricsMs] = await timed(() => Promise.all(up.map((g) => d.hypervisor.httpGet(g, '/metrics', 30_000))));
      const c2 = d.hosts.counters();
      tick.push({ xentop: diff(c1, c0), metrics: diff(c2, c1), xentopMs, metricsMs, measured: m.size });
    }
    const per = (f: (c: SshCounters) => number, max = false): [string, string] => {
      const agg = max ? (xs: number[]) => Math.max(...xs) : median;
      return [String(agg(tick.map((t) => f(t.xentop)))), String(agg(tick.map((t) => f(t.metrics))))];
    };
    out.push(`(b) SSH per sampling tick, ${up.length} guests up on 1 dom0, ${TICKS} ticks (medians; new handshakes: the most in any tick):`);
    out.push(
      ...table(
        ['per tick', 'xentop (XentopSource.sample)', `guest /metrics x${up.length} (httpGet via dom0)`],
        [
          ['SSH commands (exec channels)', ...per((c) => c.commands)],
          ['SSH forwards (forwardOut channels)', ...per((c) => c.forwards)],
          ['new SSH handshakes', ...per((c) => c.handshakes, true)],
          ['seconds', sec(median(tick.map((t) => t.xentopMs))), sec(median(tick.map((t) => t.metricsMs)))],
          ['guests measured by xentop', `${Math.min(...tick.map((t) => t.measured))}/${up.length}`, ''],
        ],
      ),
    );
  } finally {
    for (const g of [...up].reverse()) {
      const r = runs.find((x) => x.id === g.id);
      try {
        const t0 = performance.now();
        const [, stopMs, stopCalls] = await step(() => d.hypervisor.stop(g, 120_000));
        const destroy = stopCalls.find((c) => c.label === 'xl destroy');
        const [, deleteMs, deleteCalls] = await step(() => d.hypervisor.deleteClone(g));
        if (r) {
          Object.assign(r, { shutdownMs: destroy ? destroy.start - t0 : stopMs, destroyMs: destroy ? stopMs - (destroy.start - t0) : 0, deleteMs });
          Object.assign(r.calls, { stop: stopCalls, delete: deleteCalls });
        }
      } catch (e) {
        log(`xen-bench: cleanup of ${g.id} failed: ${(e as Error).message}`);
      }
    }
  }
  const rows = runs.map((r) => [r.id, sec(r.cloneMs), sec(r.bootMs), sec(r.healthyMs), sec(r.shutdownMs), r.destroyMs === 0 ? 'not needed' : sec(r.destroyMs), sec(r.deleteMs)]);
  const col = (k: 'cloneMs' | 'bootMs' | 'healthyMs' | 'shutdownMs' | 'destroyMs' | 'deleteMs') => sec(median(runs.map((r) => r[k])));
  rows.push(['median', col('cloneMs'), col('bootMs'), col('healthyMs'), col('shutdownMs'), runs.every((r) => r.destroyMs === 0) ? 'not needed' : col('destroyMs'), col('deleteMs')]);
  const by = (k: keyof Lifecycle['calls']) => breakdown(runs.map((r) => r.calls[k]));
  return [
    `(a) guest lifecycle through XenHypervisor, seconds (clone reflink on XFS, 128 MB PV guest with disk + vif, one guest at a time):`,
    ...table(['guest', 'clone()', 'boot(): xl create', 'to healthy', 'stop(): xl shutdown until gone', 'stop(): xl destroy', 'deleteClone()'], rows),
    `  clone(): ${by('clone')}`,
    `  boot(): ${by('boot')}`,
    `  stop(): ${by('stop')}`,
    `  deleteClone(): ${by('delete')}`,
    '  to healthy = from boot() returning to the first /healthz 200, polled each second through the dom0 SSH connection.',
    '',
    ...out,
  ];
}

interface CloneCase {
  method: CloneMethod;
  store: string;
  base: { small: string; large: string };
  /** Prints the KiB used where this method writes (df of the filesystem, or of the tmpfs under the VG). */
  used: string;
}

/** (c): the driver's own clone and delete commands (clonePlan), on one SSH channel each, repeated. */
async function cloneSizes(lab: Lab, d: XenDrivers, repeats: number, log: (l: string) => void): Promise<string[]> {
  const exec = async (argv: string[], timeoutMs = 600_000): Promise<string> => {
    const r = await d.hosts.exec(HOST, argv, { timeoutMs });
    if (r.code !== 0) throw new Error(`dom0 \`${argv.join(' ')}\` exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const df = (dir: string) => `df -k ${dir} | awk 'NR==2 {print $3}'`;
  const sh = (script: string, timeoutMs = 600_000) => exec(['bash', '-c', script], timeoutMs);
  const img = lab.imagesDir;
  const baseLv = lab.baseLv; // /dev/gridhost/base, 32 MB holding the 16 MB base.img
  const vg = baseLv.split('/')[2]!;
  const rows: string[][] = [];
  const notes: string[] = [];
  const cpVersion = (await lab.sshOk('cp --version | head -1')).trim();
  // dom0's du is busybox: apparent size from stat, allocated from du -k.
  const du = async (path: string) => (await lab.sshOk(`echo "$(( $(stat -c %s ${path}) / 1048576 )) MB, allocated $(( $(du -k ${path} | cut -f1) / 1024 )) MB"`)).trim();

  const rtt: number[] = [];
  for (let i = 0; i < 5; i++) rtt.push((await timed(() => exec(['true'])))[1]);

  const bench = async (c: CloneCase): Promise<void> => {
    const per: Record<'small' | 'large', { clone: number[]; del: number[] }> = { small: { clone: [], del: [] }, large: { clone: [], del: [] } };
    for (const size of ['small', 'large'] as const) {
      for (let i = 0; i < repeats; i++) {
        const plan = clonePlan(c.method, c.base[size], `cb-${size}-${i}`, { snapshotSize: '16M' });
        per[size].clone.push((await timed(() => exec(plan.create)))[1]);
        per[size].del.push((await timed(() => exec(plan.remove)))[1]);
      }
    }
    // Bytes written by one clone of each size: deterministic where times are noisy on a busy machine.
    const written: Record<'small' | 'large', number> = { small: NaN, large: NaN };
    for (const size of ['small', 'large'] as const) {
      const plan = clonePlan(c.method, c.base[size], `cb-${size}-w`, { snapshotSize: '16M' });
      const before = Number(await exec(['bash', '-c', `sync; ${c.used}`]));
      await exec(plan.create);
      written[size] = (Number(await exec(['bash', '-c', `sync; ${c.used}`])) - before) / 1024;
      await exec(plan.remove);
    }
    const s = median(per.small.clone);
    const l = median(per.large.clone);
    const o1 = written.large < LARGE_MB / 10 ? 'yes' : 'no';
    const mb = (x: number) => x.toFixed(1);
    rows.push([c.method, c.store, sec(s), sec(l), (l / s).toFixed(1), mb(written.small), mb(written.large), o1, sec(median(per.small.del)), sec(median(per.large.del))]);
    log(`xen-bench: clone ${c.method} (${c.store}): ${sec(s)} s / ${sec(l)} s (load ${load()})`);
  };
  const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      notes.push(`  ${what}: not measured: ${(e as Error).message.split('\n')[0]}`);
    }
  };

  // 1. copy where cp must move bytes: a plain directory on dom0's tmpfs (no reflink there).
  await sh(`set -e; mkdir -p ${PLAIN}; cp --reflink=never ${img}/base.img ${PLAIN}/base.img; dd if=/dev/urandom of=${PLAIN}/base-large.img bs=1M count=${LARGE_MB} 2>/dev/null`);
  const sizes = `base.img ${await du(`${PLAIN}/base.img`)}; base-large.img ${await du(`${PLAIN}/base-large.img`)} (random data)`;
  await attempt('copy (tmpfs)', () => bench({ method: 'copy', store: 'tmpfs dir', base: { small: `${PLAIN}/base.img`, large: `${PLAIN}/base-large.img` }, used: df(STORE) }));
  // 2. the XFS reflink=1 store: copy (plain `cp`), reflink, qcow2.
  await sh(`set -e; rm -f ${PLAIN}/base.img; mv ${PLAIN}/base-large.img ${img}/base-large.img; rmdir ${PLAIN}; sync`);
  const xfs = { small: `${img}/base.img`, large: `${img}/base-large.img` };
  // The driver's `copy` is a plain `cp`: on XFS too, the MB written column shows whether it shares extents.
  await attempt('copy (XFS)', () => bench({ method: 'copy', store: 'XFS reflink=1', base: xfs, used: df(img) }));
  await attempt('reflink', () => bench({ method: 'reflink', store: 'XFS reflink=1', base: xfs, used: df(img) }));
  await attempt('qcow2', () => bench({ method: 'qcow2', store: 'XFS reflink=1', base: xfs, used: df(img) }));
  // qcow2 can only boot here through qemu-nbd (no qdisk backend): time that attach as well.
  await attempt('qcow2 + qemu-nbd attach', async () => {
    const ms: Record<'small' | 'large', number[]> = { small: [], large: [] };
    await sh('modprobe nbd');
    for (const size of ['small', 'large'] as const) {
      const plan = clonePlan('qcow2', xfs[size], `cb-nbd-${size}`);
      await exec(plan.create);
      try {
        for (let i = 0; i < repeats; i++) ms[size].push((await timed(() => sh(`set -e; qemu-nbd --fork -c /dev/nbd0 -f qcow2 ${plan.target}; blockdev --getsize64 /dev/nbd0 >/dev/null; qemu-nbd -d /dev/nbd0 >/dev/null`)))[1]);
      } finally {
        await exec(plan.remove);
      }
    }
    notes.push(`  qemu-nbd -c + -d of the qcow2 clone (what an xl create of it needs in this lab): ${sec(median(ms.small))} s small, ${sec(median(ms.large))} s large`);
  });
  // 3. lvm-snapshot: a base LV 10x the lab's (320 MB, 160 MB of data), snapshots of 16 MB.
  await attempt('lvm-snapshot', async () => {
    await sh(`set -e; lvm lvcreate -q -y -L ${2 * LARGE_MB}M -n baselarge ${vg} >/dev/null; dd if=${img}/base-large.img of=/dev/${vg}/baselarge bs=1M conv=fsync 2>/dev/null`);
    await sh(`rm -f ${img}/base-large.img; fstrim ${img} 2>/dev/null; true`);
    try {
      await bench({ method: 'lvm-snapshot', store: `LV 32 MB / ${2 * LARGE_MB} MB`, base: { small: baseLv, large: `/dev/${vg}/baselarge` }, used: df(STORE) });
    } finally {
      await sh(`lvm lvremove -q -f ${vg}/baselarge >/dev/null`);
    }
  });
  await sh(`rm -rf ${PLAIN} ${img}/base-large.img; fstrim ${img} 2>/dev/null; true`);
  notes.push(`  dom0 tmpfs under the stores after cleanup: ${Math.round(Number(await exec(['bash', '-c', df(STORE)])) / 1024)} MB used (its limit is 700 MB; dom0 has 1 GB).`);

  return [
    `(c) clone time by base image size, seconds (median of ${repeats}; the driver's clonePlan commands, one SSH exec each):`,
    `  images: ${sizes}. dom0 ${cpVersion}. SSH round trip of \`true\`: ${sec(median(rtt))} s.`,
    ...table(['method', 'store', 's clone 16 MB', `s clone ${LARGE_MB} MB`, 'time ratio', 'MB written 16', `MB written ${LARGE_MB}`, 'O(1)', 's delete 16', `s delete ${LARGE_MB}`], rows, 2),
    `  O(1) = a clone of the ${LARGE_MB} MB image writes less than ${LARGE_MB / 10} MB (MB written: growth of the store after clone + sync; the LVM VG and the tmpfs dir`,
    `  are measured on dom0's tmpfs under them). Times include one SSH exec (~the \`true\` round trip).`,
    ...notes,
  ];
}

export async function benchXen(opts: { guests?: number; repeats?: number; log?: (line: string) => void } = {}): Promise<string> {
  const guests = opts.guests ?? Number(process.env.GRIDHOST_BENCH_XEN_GUESTS ?? 3);
  const repeats = opts.repeats ?? Number(process.env.GRIDHOST_BENCH_XEN_REPEATS ?? 3);
  const log = opts.log ?? ((l: string) => console.error(l));
  const loadStart = load();
  const started = new Date().toISOString();
  const dir = mkdtempSync(join(os.tmpdir(), 'gridhost-xen-bench-'));
  let lab: Lab | undefined;
  let d: XenDrivers | undefined;
  const out: string[] = [];
  try {
    log('xen-bench: building and booting the Xen lab (stores xfs + lvm)...');
    const [l, labMs] = await timed(() => startLab({ stores: ['xfs', 'lvm'], bootTimeoutS: 600 }));
    lab = l;
    out.push(`xen (real Xen 4.17 lab in QEMU TCG, -smp 2; started ${started}; lab boot ${lab.bootSeconds} s, boot + stores ${sec(labMs)} s):`);
    d = createXenDrivers(
      [{ name: HOST, address: lab.host, port: lab.port, user: lab.username, privateKeyPath: lab.privateKeyPath, hostKeyFingerprint: lab.fingerprint }],
      { hypervisor: { cfgDir: CFG_DIR, lvmSnapshotSize: '16M', createTimeoutMs: 600_000, destroyTimeoutMs: 300_000, goneTimeoutMs: 120_000, commandTimeoutMs: 120_000 }, xentop: { timeoutMs: 60_000 } },
    );
    const drivers = d;
    const calls = recordCalls(d);
    const section = async (name: string, fn: () => Promise<string[]>): Promise<void> => {
      try {
        out.push('', ...(await fn()));
      } catch (e) {
        out.push('', `${name}: failed: ${(e as Error).message}`);
      }
    };
    await section('(c) clone sizes', () => cloneSizes(l, drivers, repeats, log));
    await section('(a)+(b) lifecycle', () => lifecycleAndTicks(l, drivers, calls, dir, guests, log));
    await section('(d) warm pool', async () => {
      const tpl = join(dir, 'bench-warm.xl.cfg');
      writeFileSync(tpl, template(l));
      return warmVsCold({ drivers, host: HOST, pool: POOL, policy: (image, clone) => policy(tpl, image, clone), image: l.baseImage, log });
    });
    await section('(e) vertical first', async () => {
      const tpl = join(dir, 'bench-vertical.xl.cfg');
      // Room for one step: a second vCPU and 32 MiB (placement reserves maxmem).
      writeFileSync(tpl, `${template(l)}maxvcpus = 2\nmaxmem = 160\n`);
      return verticalVsCold({ drivers, host: HOST, pool: POOL, policy: (image, clone) => policy(tpl, image, clone), image: l.baseImage, log });
    });
    out.push('', `SSH handshakes for the whole bench on the driver's connection: ${d.hosts.counters().handshakes}; commands ${d.hosts.counters().commands}, forwards ${d.hosts.counters().forwards}.`);
  } finally {
    await d?.close().catch(() => undefined);
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  out.push(`load average (1/5/15 min) at start: ${loadStart}; at end: ${load()} (${os.cpus().length} host CPUs); ended ${new Date().toISOString()}`);
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchXen());
  process.exit(0);
}
