// The local hypervisor driver (the embedded default): a guest is a process group spawned from
// a clone of a base-image directory, serving HTTP on a loopback port of the guest's own choosing
// (listening-port.ts: {{port}} is 0, and the port is read from the guest's listening socket).
// Guests are detached (own process group, not tied to gridhost's lifetime), so a restarted
// gridhost adopts them through discover(), which reads the `guest.json` each boot writes (guest-record.ts).
// Processes are identified by pid + start time (/proc field 22) so a reused pid is never signalled.
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { findMarked, markerEnv } from './guest-marker.ts';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Guest } from '../../../domain/types.ts';
import { GridhostError, type ErrorCode } from '../../../errors/errors.ts';
import { cloneDirectory } from '../../clone/clone-directory.ts';
import { isInside, removeClone } from '../../clone/remove-clone.ts';
import type { DiscoveredGuest, GuestSpec, Hypervisor, StepResult } from '../hypervisor.ts';
import { GUEST_RECORD, readRecord, writeRecord, type GuestRecord } from './guest-record.ts';
import { groupPorts, heldByGroup, holderOf, listeningAt, waitForPort } from './listening-port.ts';
import { stopGroup } from './stop-group.ts';
import { isSameLiveProcess, metaInt, readProcStat } from './proc-stat.ts';
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
  /** A guest that exits before it listens, or within this long after spawning, failed to boot. Default 200 ms. */
  bootGraceMs?: number;
  /** How long to wait for death after SIGKILL before reporting GH_STOP_FAILED. Default 5 s. */
  killWaitMs?: number;
  /** Test hook (kill tests): awaited right after a guest is spawned, before its guest.json is
   *  written (the spawn-to-record gap). Never set in production. */
  afterSpawn?: (guest: string) => Promise<void>;
}

export const GUEST_LOG = 'guest.log';
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
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
    // Port 0: the guest binds a port of the kernel's choosing, and holds it from that moment.
    const run = renderProcessTemplate(tpl, { port: '0', guest: spec.id, pool: spec.pool, dir });
    const logPath = path.join(dir, GUEST_LOG);

    let logFd: number;
    try {
      logFd = openSync(logPath, 'a');
      writeSync(logFd, `--- ${new Date().toISOString()} gridhost: starting ${JSON.stringify([run.command, ...run.args])}\n`);
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
    const spawnedAt = Date.now();
    let ended: string | undefined;
    void exited.then((why) => (ended = why));
    await this.afterSpawn?.(spec.id);
    const stat0 = await readProcStat(pid);
    if (!stat0) {
      throw await this.bootError(spec, logPath, `${run.command} ${await exited} immediately`);
    }
    const record: GuestRecord = {
      id: spec.id,
      pool: spec.pool,
      pid,
      startTime: stat0.startTime,
      clonePath: dir,
      ...(meta.cloneMethod ? { cloneMethod: meta.cloneMethod } : {}),
      bootedAt: new Date().toISOString(),
    };
    // Record it before anything else can fail, so a crash from here on leaves it findable.
    const saveRecord = async (rec: GuestRecord): Promise<void> => {
      try {
        await writeRecord(dir, rec);
      } catch (e) {
        await this.kill(pid, stat0.startTime, 0);
        throw await this.bootError(spec, logPath, `cannot write ${GUEST_RECORD}: ${(e as Error).message}`, e);
      }
    };
    await saveRecord(record);
    const failed = async (why: string): Promise<GridhostError> => {
      await this.kill(pid, stat0.startTime, 0); // whatever it left in its group
      return this.bootError(spec, logPath, why);
    };
    // Its service's port, once it listens: never a number another process could hold.
    const timeoutMs = spec.policy.guest.bootTimeoutMs;
    const found = await waitForPort(pid, this.host, { deadline: spawnedAt + timeoutMs, ended: () => ended });
    if ('why' in found) {
      throw await failed('ports' in found
        ? `it listens on ports ${found.ports.join(', ')} at once; a local guest serves on one port (the first it listens on)`
        : found.why === 'ended'
          ? `${run.command} ${ended} before it listened on a port`
          : `did not listen on a TCP port at ${this.host} within ${timeoutMs} ms (boot_timeout); its template's {{port}} is 0 (any free port): the guest must listen on it`);
    }
    const { port } = found;
    const grace = spawnedAt + this.bootGraceMs - Date.now();
    const early = grace > 0 ? await Promise.race([exited, sleep(grace).then(() => undefined)]) : ended;
    if (early !== undefined) throw await failed(`${run.command} ${early} within ${this.bootGraceMs} ms of starting`);
    const address = `${this.host}:${port}`;
    await saveRecord({ ...record, port, address });
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
        // Killed before the guest listened and its port was recorded: it may listen by now.
        const port = rec.port ?? (running ? (await groupPorts(rec.pid, this.host))[0] : undefined);
        found.push({
          id,
          pool,
          host: 'localhost',
          ...(port !== undefined ? { address: `${this.host}:${port}` } : {}),
          meta: {
            clonePath: dir,
            pid: String(rec.pid),
            ...(port !== undefined ? { port: String(port) } : {}),
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

  /** The guest's address is answered by the guest: the socket listening at its port is held by
   *  its own process group (the process started at its recorded start time). */
  async verifyAddress(guest: Guest): Promise<void> {
    const pid = metaInt(guest.meta.pid);
    const port = metaInt(guest.address?.slice(guest.address.lastIndexOf(':') + 1));
    const fail = (why: string): GridhostError => new GridhostError('GH_HEALTH_TIMEOUT', `${guest.address ?? 'no address'} ${why}`, { guest: guest.id, address: guest.address });
    if (pid === undefined || port === undefined) throw fail(`cannot be checked as guest ${guest.id}'s: its pid or port is not known`);
    if (!isSameLiveProcess(await readProcStat(pid), metaInt(guest.meta.startTime))) throw fail(`is not guest ${guest.id}'s: its process (pid ${pid}) is gone`);
    const mine = (await heldByGroup(pid, await listeningAt(this.host))).some((s) => s.port === port);
    if (mine) return;
    const holder = await holderOf(this.host, port);
    throw fail(holder
      ? `is answered by another process (pid ${holder.pid}, ${holder.comm}), not by guest ${guest.id} (pid ${pid}), which no longer listens there`
      : `is not answered by guest ${guest.id} (pid ${pid}): it no longer listens there`);
  }

  private kill(pid: number, startTime: number, timeoutMs: number, guestId?: string): Promise<void> {
    return stopGroup(pid, startTime, timeoutMs, { killWaitMs: this.killWaitMs, log: this.log, ...(guestId ? { guestId } : {}) });
  }

  async close(): Promise<void> {
    // Nothing to release: guests are detached and keep running for the next gridhost to adopt.
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
