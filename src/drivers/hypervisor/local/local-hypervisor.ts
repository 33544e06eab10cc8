// The local hypervisor driver (the embedded default): a guest is a process group spawned from
// a clone of a base-image directory, serving HTTP on a loopback port. Guests are detached (own
// process group, not tied to gridhost's lifetime), so a restarted gridhost adopts them through
// discover(), which reads the `guest.json` each boot writes into the clone.
// Processes are identified by pid + start time (/proc field 22) so a reused pid is never signalled.
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { findMarked, markerEnv } from './guest-marker.ts';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Guest } from '../../../domain/types.ts';
import { GridhostError, type ErrorCode } from '../../../errors/errors.ts';
import { cloneDirectory } from '../../clone/clone-directory.ts';
import { isInside, removeClone } from '../../clone/remove-clone.ts';
import type { DiscoveredGuest, GuestSpec, Hypervisor, StepResult } from '../hypervisor.ts';
import { freePort } from './free-port.ts';
import { groupAlive, isSameLiveProcess, metaInt, readProcStat } from './proc-stat.ts';
import { processTemplateDigest, readProcessTemplate, renderProcessTemplate } from './process-template.ts';
import { directoryDigest } from '../../clone/source-digest.ts';
import type { Policy } from '../../../domain/policy.ts';
import { IMAGE_DIGEST_META, TEMPLATE_DIGEST_META, type SourceDigest } from '../../../decision/rollout-plan.ts';

/** The subset of a winston logger the driver uses. */
export interface DriverLogger {
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export interface LocalHypervisorOptions {
  /** Root of the clones: `${guestsDir}/${pool}/${id}`. */
  guestsDir: string;
  /** Loopback address guests bind to. */
  host?: '127.0.0.1';
  logger?: DriverLogger;
  /** A guest that exits within this long after spawning failed to boot. Default 200 ms. */
  bootGraceMs?: number;
  /** How long to wait for death after SIGKILL before reporting GH_STOP_FAILED. Default 5 s. */
  killWaitMs?: number;
  /** Test hook (kill tests): awaited right after a guest is spawned, before its guest.json is
   *  written (the spawn-to-record gap). Never set in production. */
  afterSpawn?: (guest: string) => Promise<void>;
}

/** What boot() records in `<clone>/guest.json` for adoption after a restart. */
export interface GuestRecord {
  id: string;
  pool: string;
  pid: number;
  port: number;
  startTime: number;
  address: string;
  clonePath: string;
  cloneMethod?: string;
  bootedAt: string;
}

export const GUEST_RECORD = 'guest.json';
export const GUEST_LOG = 'guest.log';
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const POLL_MS = 50;
const LOG_TAIL_LINES = 20;

const silent: DriverLogger = { info: () => undefined, warn: () => undefined };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LocalHypervisor implements Hypervisor {
  readonly name = 'local';

  hostNames(): readonly string[] {
    return ['localhost'];
  }
  readonly guestsDir: string;
  private readonly host: string;
  private readonly log: DriverLogger;
  private readonly bootGraceMs: number;
  private readonly killWaitMs: number;

  private readonly afterSpawn?: (guest: string) => Promise<void>;

  constructor(opts: LocalHypervisorOptions) {
    this.guestsDir = path.resolve(opts.guestsDir);
    this.host = opts.host ?? '127.0.0.1';
    this.log = opts.logger ?? silent;
    this.bootGraceMs = opts.bootGraceMs ?? 200;
    this.killWaitMs = opts.killWaitMs ?? 5000;
    this.afterSpawn = opts.afterSpawn;
  }

  /** Where the clone of guest `id` in `pool` lives. */
  clonePathFor(pool: string, id: string): string {
    return path.join(this.guestsDir, pool, id);
  }

  async clone(spec: GuestSpec): Promise<StepResult> {
    checkNames(spec, 'GH_CLONE_FAILED');
    const dst = this.clonePathFor(spec.pool, spec.id);
    try {
      await mkdir(path.dirname(dst), { recursive: true });
    } catch (e) {
      throw new GridhostError('GH_CLONE_FAILED', `cannot create ${path.dirname(dst)}: ${(e as Error).message}`, { guest: spec.id }, { cause: e });
    }
    // Digested before the copy: an image replaced during it leaves the guest looking older than
    // it is (a rollout replaces it once more), never newer.
    const imageDigest = await directoryDigest(spec.policy.guest.image);
    const method = await cloneDirectory(spec.policy.guest.image, dst, spec.policy.guest.clone);
    this.log.info('guest cloned', { guest: spec.id, pool: spec.pool, clonePath: dst, cloneMethod: method });
    return { meta: { clonePath: dst, cloneMethod: method, [IMAGE_DIGEST_META]: imageDigest }, host: 'localhost' };
  }

  async boot(spec: GuestSpec, meta: Record<string, string>): Promise<StepResult> {
    checkNames(spec, 'GH_BOOT_FAILED');
    const dir = meta.clonePath ?? this.clonePathFor(spec.pool, spec.id);
    if (!isInside(this.guestsDir, dir)) {
      throw new GridhostError('GH_BOOT_FAILED', `clone path ${dir} is outside the guests directory ${this.guestsDir}`, { guest: spec.id });
    }
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
      throw new GridhostError('GH_BOOT_FAILED', `clone ${dir} does not exist; clone the guest before booting it`, { guest: spec.id });
    }
    const prev = await readRecord(dir);
    if (prev && isSameLiveProcess(await readProcStat(prev.pid), prev.startTime)) {
      throw new GridhostError('GH_NAME_IN_USE', `guest ${spec.id} is already running (pid ${prev.pid}); stop it first`, { guest: spec.id, pid: prev.pid });
    }
    const { template: tpl, digest: templateDigest } = await readProcessTemplate(spec.policy.guest.template);
    let port: number;
    try {
      port = await freePort(this.host);
    } catch (e) {
      throw new GridhostError('GH_BOOT_FAILED', `no free port on ${this.host}: ${(e as Error).message}`, { guest: spec.id }, { cause: e });
    }
    const run = renderProcessTemplate(tpl, { port: String(port), guest: spec.id, pool: spec.pool, dir });
    const logPath = path.join(dir, GUEST_LOG);

    let logFd: number;
    try {
      logFd = openSync(logPath, 'a');
      writeSync(logFd, `--- ${new Date().toISOString()} gridhost: starting ${JSON.stringify([run.command, ...run.args])} on port ${port}\n`);
    } catch (e) {
      throw new GridhostError('GH_BOOT_FAILED', `cannot open ${logPath}: ${(e as Error).message}`, { guest: spec.id }, { cause: e });
    }
    // A minimal environment: the template's variables, not gridhost's (which may hold secrets).
    // The marker (guest-marker.ts) makes the process findable before guest.json is written.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: dir, LANG: process.env.LANG ?? 'C.UTF-8', ...run.env,
      ...markerEnv(this.guestsDir, spec.id, spec.pool),
    };
    const child = spawn(run.command, run.args, { cwd: dir, env, detached: true, stdio: ['ignore', logFd, logFd] });
    const exited = new Promise<string>((resolve) => child.once('exit', (code, sig) => resolve(sig ? `killed by ${sig}` : `exited with code ${code}`)));
    // A ChildProcess 'error' with no listener would crash gridhost: always listen.
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.on('error', (e) => {
        reject(e);
        this.log.warn('guest process error', { guest: spec.id, error: e.message });
      });
    });
    try {
      await spawned;
    } catch (e) {
      closeSync(logFd);
      throw await this.bootError(spec, logPath, `cannot start ${JSON.stringify(run.command)}: ${(e as Error).message}`, e);
    }
    closeSync(logFd);
    child.unref(); // gridhost may exit; the guest lives on (its handle still reaps it while we run)

    const pid = child.pid as number;
    await this.afterSpawn?.(spec.id);
    const stat0 = await readProcStat(pid);
    if (!stat0) {
      throw await this.bootError(spec, logPath, `${run.command} ${await exited} immediately`);
    }
    const address = `${this.host}:${port}`;
    const record: GuestRecord = {
      id: spec.id,
      pool: spec.pool,
      pid,
      port,
      startTime: stat0.startTime,
      address,
      clonePath: dir,
      ...(meta.cloneMethod ? { cloneMethod: meta.cloneMethod } : {}),
      bootedAt: new Date().toISOString(),
    };
    // Record it before anything else can fail, so a crash from here on leaves it findable.
    try {
      await writeRecord(dir, record);
    } catch (e) {
      await this.kill(pid, stat0.startTime, 0);
      throw await this.bootError(spec, logPath, `cannot write ${GUEST_RECORD}: ${(e as Error).message}`, e);
    }
    const early = await Promise.race([exited, sleep(this.bootGraceMs).then(() => undefined)]);
    if (early !== undefined) {
      await this.kill(pid, stat0.startTime, 0); // whatever it left in its group
      throw await this.bootError(spec, logPath, `${run.command} ${early} within ${this.bootGraceMs} ms of starting`);
    }
    child.once('exit', (code, sig) => this.log.info('guest process exited', { guest: spec.id, pid, code, signal: sig }));
    this.log.info('guest booted', { guest: spec.id, pool: spec.pool, pid, address });
    return {
      meta: { clonePath: dir, pid: String(pid), port: String(port), startTime: String(stat0.startTime), [TEMPLATE_DIGEST_META]: templateDigest },
      host: 'localhost',
      address,
    };
  }

  /** The template's bytes and the image tree as they are now (every guest here is on localhost). */
  async sourceDigest(policy: Policy): Promise<SourceDigest> {
    const [template, image] = await Promise.all([processTemplateDigest(policy.guest.template), directoryDigest(policy.guest.image)]);
    return { template, image };
  }

  async stop(guest: Guest, timeoutMs: number): Promise<void> {
    let pid = metaInt(guest.meta.pid);
    let startTime = metaInt(guest.meta.startTime);
    if (pid === undefined || startTime === undefined) {
      // Booted but the meta was not stored (crash): the clone's record still names it.
      const dir = guest.meta.clonePath ?? this.clonePathFor(guest.pool, guest.id);
      const rec = isInside(this.guestsDir, dir) ? await readRecord(dir) : undefined;
      if (rec && rec.id === guest.id) {
        pid = rec.pid;
        startTime = rec.startTime;
      } else {
        // No record: killed between spawn and guest.json, or never started. Its marker says.
        const marked = (await findMarked(this.guestsDir)).get(guest.id);
        if (!marked) return;
        pid = marked.stat.pid;
        startTime = marked.stat.startTime;
      }
    }
    await this.kill(pid, startTime, timeoutMs, guest.id);
  }

  /** SIGSTOP to the guest's process group (the warm pool): its memory, sockets and state stay;
   *  it runs no instruction until unpause(). Waits until the kernel shows it stopped. */
  async pause(guest: Guest): Promise<StepResult> {
    await this.signalGuest(guest, 'SIGSTOP');
    return { meta: { paused: '1' } };
  }

  /** SIGCONT to the guest's process group. A guest that is not stopped is unaffected. */
  async unpause(guest: Guest): Promise<StepResult> {
    await this.signalGuest(guest, 'SIGCONT');
    return { meta: { paused: '0' } };
  }

  /** Sends `sig` to the guest's own process group (only while it is still the process started
   *  at its recorded start time) and waits until its leader's state shows it (T for SIGSTOP). */
  private async signalGuest(guest: Guest, sig: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    const pid = metaInt(guest.meta.pid);
    const startTime = metaInt(guest.meta.startTime);
    const s = pid === undefined ? undefined : await readProcStat(pid);
    if (pid === undefined || !isSameLiveProcess(s, startTime) || s!.pgrp !== pid) {
      throw new GridhostError('GH_BOOT_FAILED', `guest ${guest.id} has no live process group to ${sig === 'SIGSTOP' ? 'pause' : 'unpause'} (pid ${guest.meta.pid ?? 'unknown'})`, { guest: guest.id });
    }
    try {
      process.kill(-pid, sig);
    } catch (e) {
      throw new GridhostError('GH_BOOT_FAILED', `cannot send ${sig} to guest ${guest.id} (pid ${pid}): ${(e as Error).message}`, { guest: guest.id, pid }, { cause: e });
    }
    const deadline = Date.now() + this.killWaitMs;
    for (;;) {
      const now = await readProcStat(pid);
      if (!isSameLiveProcess(now, startTime)) throw new GridhostError('GH_BOOT_FAILED', `guest ${guest.id} (pid ${pid}) exited`, { guest: guest.id, pid });
      if ((now!.state === 'T') === (sig === 'SIGSTOP')) return;
      if (Date.now() >= deadline) throw new GridhostError('GH_BOOT_FAILED', `guest ${guest.id} (pid ${pid}) did not ${sig === 'SIGSTOP' ? 'stop' : 'continue'} within ${this.killWaitMs} ms (state ${now!.state})`, { guest: guest.id, pid });
      await sleep(5);
    }
  }

  async deleteClone(guest: Guest): Promise<void> {
    const dir = guest.meta.clonePath ?? this.clonePathFor(guest.pool, guest.id);
    await removeClone(dir, this.guestsDir);
    this.log.info('guest clone deleted', { guest: guest.id, clonePath: dir });
  }

  async discover(): Promise<DiscoveredGuest[]> {
    const found: DiscoveredGuest[] = [];
    const marked = await findMarked(this.guestsDir);
    const markedFound = (id: string, pool: string, dir: string | undefined): DiscoveredGuest | undefined => {
      const m = marked.get(id);
      if (!m || m.pool !== pool) return undefined;
      return { id, pool, host: 'localhost', meta: { ...(dir ? { clonePath: dir } : {}), pid: String(m.stat.pid), startTime: String(m.stat.startTime) }, running: true };
    };
    const seen = new Set<string>();
    for (const pool of await dirNames(this.guestsDir)) {
      for (const id of await dirNames(path.join(this.guestsDir, pool))) {
        const dir = path.join(this.guestsDir, pool, id);
        seen.add(id);
        const rec = await readRecord(dir);
        if (!rec || rec.id !== id || rec.pool !== pool) {
          // A process started but not recorded (the spawn-to-record gap), or a leftover clone
          // that never booted (or whose record is unreadable).
          found.push(markedFound(id, pool, dir) ?? { id, pool, host: 'localhost', meta: { clonePath: dir }, running: false });
          continue;
        }
        const running = isSameLiveProcess(await readProcStat(rec.pid), rec.startTime);
        found.push({
          id,
          pool,
          host: 'localhost',
          address: rec.address,
          meta: {
            clonePath: dir,
            pid: String(rec.pid),
            port: String(rec.port),
            startTime: String(rec.startTime),
            ...(rec.cloneMethod ? { cloneMethod: rec.cloneMethod } : {}),
          },
          running,
        });
      }
    }
    // A marked process whose clone folder is gone (deleted after a crash, the process missed).
    for (const m of marked.values()) {
      if (!seen.has(m.id)) found.push(markedFound(m.id, m.pool, undefined)!);
    }
    return found;
  }

  /** A guest whose recorded process (pid and start time, so a reused pid does not fool it) is no
   *  longer alive. A stopped (SIGSTOP) process is alive: its health check tells about it. */
  async gone(guests: readonly Guest[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const g of guests) {
      const pid = metaInt(g.meta.pid);
      if (pid === undefined) continue;
      if (!isSameLiveProcess(await readProcStat(pid), metaInt(g.meta.startTime))) out.add(g.id);
    }
    return out;
  }

  async close(): Promise<void> {
    // Nothing to release: guests are detached and keep running for the next gridhost to adopt.
  }

  /**
   * SIGTERM the process group of `pid` (only if it is still the process started at `startTime`),
   * wait up to `timeoutMs`, then SIGKILL. Success when nothing of it is left running.
   */
  private async kill(pid: number, startTime: number, timeoutMs: number, guestId?: string): Promise<void> {
    const s = await readProcStat(pid);
    if (s && s.startTime !== startTime) {
      // The pid now belongs to another process: ours is long gone (and so is its group, since
      // Linux does not hand out a pid still in use as a process-group id).
      this.log.info('guest already gone (pid reused)', { guest: guestId, pid });
      return;
    }
    // Signal the group when our process leads it (it was spawned detached); else just the pid.
    const target = s === undefined || s.pgrp === pid ? -pid : pid;
    const alive = (): Promise<boolean> => (target < 0 ? groupAlive(pid) : readProcStat(pid).then((x) => isSameLiveProcess(x, startTime)));
    if (!(await alive())) return;

    if (timeoutMs > 0) {
      signal(target, 'SIGTERM');
      // A paused guest (the warm pool's SIGSTOP) only sees SIGTERM once it runs again.
      signal(target, 'SIGCONT');
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
        if (!(await alive())) {
          this.log.info('guest stopped', { guest: guestId, pid });
          return;
        }
      }
      this.log.warn('guest ignored SIGTERM; killing it', { guest: guestId, pid, timeoutMs });
    }
    signal(target, 'SIGKILL');
    const deadline = Date.now() + this.killWaitMs;
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      if (!(await alive())) return;
    }
    throw new GridhostError('GH_STOP_FAILED', `guest ${guestId ?? pid} (pid ${pid}) is still running after SIGKILL`, { guest: guestId, pid });
  }

  private async bootError(spec: GuestSpec, logPath: string, why: string, cause?: unknown): Promise<GridhostError> {
    const tail = await tailFile(logPath, LOG_TAIL_LINES);
    this.log.warn('guest failed to boot', { guest: spec.id, reason: why });
    return new GridhostError(
      'GH_BOOT_FAILED',
      `guest ${spec.id}: ${why}${tail ? `\nlast lines of ${logPath}:\n${tail}` : ''}`,
      { guest: spec.id, log: logPath },
      cause === undefined ? undefined : { cause },
    );
  }
}

function checkNames(spec: GuestSpec, code: ErrorCode): void {
  for (const [what, v] of [['guest id', spec.id], ['pool', spec.pool]] as const) {
    if (!SAFE_NAME.test(v) || v.includes('..')) {
      throw new GridhostError(code, `${what} ${JSON.stringify(v)} is not path-safe (letters, digits, . _ -)`, { guest: spec.id });
    }
  }
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw new GridhostError('GH_STOP_FAILED', `cannot signal ${target}: ${(e as Error).message}`, {}, { cause: e });
  }
}

async function readRecord(dir: string): Promise<GuestRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(path.join(dir, GUEST_RECORD), 'utf8')) as Partial<GuestRecord>;
    if (typeof r.id !== 'string' || typeof r.pool !== 'string' || !Number.isInteger(r.pid) || !Number.isInteger(r.port) || !Number.isInteger(r.startTime)) return undefined;
    return r as GuestRecord;
  } catch {
    return undefined;
  }
}

async function writeRecord(dir: string, rec: GuestRecord): Promise<void> {
  const file = path.join(dir, GUEST_RECORD);
  await writeFile(`${file}.tmp`, `${JSON.stringify(rec, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

async function dirNames(dir: string): Promise<string[]> {
  try {
    const ents = await readdir(dir, { withFileTypes: true });
    return ents.filter((e) => e.isDirectory() && SAFE_NAME.test(e.name)).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

async function tailFile(file: string, lines: number): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
