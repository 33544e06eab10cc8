// Stopping a local guest's process group: SIGTERM (and SIGCONT, so a paused guest sees it), then
// SIGKILL after the graceful timeout, only while `pid` is still the process started at `startTime`.
import { GridhostError } from '../../../errors/errors.ts';
import { groupAlive, isSameLiveProcess, readProcStat } from './proc-stat.ts';

export interface StopOptions {
  /** How long to wait for death after SIGKILL before GH_STOP_FAILED. */
  killWaitMs: number;
  log: { info(message: string, meta?: Record<string, unknown>): unknown; warn(message: string, meta?: Record<string, unknown>): unknown };
  guestId?: string;
}

const POLL_MS = 50;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * SIGTERM the process group of `pid` (only if it is still the process started at `startTime`),
 * wait up to `timeoutMs`, then SIGKILL. Success when nothing of it is left running.
 */
export async function stopGroup(pid: number, startTime: number, timeoutMs: number, o: StopOptions): Promise<void> {
  const { guestId } = o;
  const s = await readProcStat(pid);
  if (s && s.startTime !== startTime) {
    // The pid now belongs to another process: ours is long gone (and so is its group, since
    // Linux does not hand out a pid still in use as a process-group id).
    o.log.info('guest already gone (pid reused)', { guest: guestId, pid });
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
        o.log.info('guest stopped', { guest: guestId, pid });
        return;
      }
    }
    o.log.warn('guest ignored SIGTERM; killing it', { guest: guestId, pid, timeoutMs });
  }
  signal(target, 'SIGKILL');
  const deadline = Date.now() + o.killWaitMs;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    if (!(await alive())) return;
  }
  throw new GridhostError('GH_STOP_FAILED', `guest ${guestId ?? pid} (pid ${pid}) is still running after SIGKILL`, { guest: guestId, pid });
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw new GridhostError('GH_STOP_FAILED', `cannot signal ${target}: ${(e as Error).message}`, {}, { cause: e });
  }
}
