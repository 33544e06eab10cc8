// Watches the policy folder and reports what changed. fs.watch is fast but unreliable
// (editors rename, network filesystems drop events), so a periodic rescan backs it up;
// both paths run the same idempotent scan, which compares file contents by hash. Scans never
// overlap, and after the first one (at start-up, on this thread, before anything serves) files
// are checked in a worker thread (policy-checker.ts), so a big or hostile file never stalls the
// event loop the balancer and the API run on. An unchanged file is not checked again, unless it
// was invalid and a file its check looked for (template, image) has appeared or gone since.
//
// The watcher only reports: when a file turns invalid, its last good policy stays in force
// (no event removes it) until the file is fixed or deleted. A pool held by one file is not
// taken over by another file that appears later, whatever the names; on the first scan the
// first file by name wins, as in loadPolicyDir.

import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Policy } from '../domain/policy.ts';
import type { ValidationIssue } from '../errors/errors.ts';
import { duplicatePoolIssue, listPolicyFiles, notAFileIssue, readPolicyFile, type PolicyLoadOptions } from './load-policy.ts';
import type { PolicyResult } from './parse-policy.ts';
import { checkWithDeps, depsUnchanged, inlineChecker, workerChecker, type CheckOutcome, type CheckSettings, type ExistsCheck, type PolicyChecker } from './policy-checker.ts';

/** Why a pool lost its file: deleted (the operator's way to stop managing it) or by accident. */
export type RemovedReason = 'deleted' | 'not-a-file' | 'pool-changed';

export type PolicyEvent =
  | { kind: 'loaded'; policy: Policy; /** Problems that do not stop it (a file named unlike its pool). */ warnings: ValidationIssue[] }
  | { kind: 'invalid'; file: string; issues: ValidationIssue[]; /** Further issues not carried (absent = none). */ omitted?: number }
  | { kind: 'removed'; pool: string; file: string; reason: RemovedReason; /** What happened, for the log line. */ detail: string }
  /** A file that held no pool (invalid, or its pool held by another file) was deleted: whatever
   *  was reported about it is gone. */
  | { kind: 'cleared'; file: string };

export interface WatchOptions extends PolicyLoadOptions {
  /** Rescan period, the fallback for missed fs events; default 2000 ms. Timers are unref'd:
   *  the watcher alone does not keep the process alive. */
  pollMs?: number;
  /** Quiet time after an fs event before scanning; default 100 ms. */
  debounceMs?: number;
  /** A file modified less than this long ago that does not validate is re-read once it has
   *  been quiet this long before it is reported (editors write in several steps, so a
   *  half-written file is not an error); default 500 ms. Never applies to the first scan. */
  settleMs?: number;
  /** Use fs.watch as well as polling (default true); tests turn it off to prove the fallback. */
  fsWatch?: boolean;
  /** Checks files after the first scan. Default: a worker thread (on this thread when `exists`
   *  is given, as a function cannot cross threads). The watcher closes only its own. */
  checker?: PolicyChecker;
}

export interface PolicyWatcher {
  close(): void;
}

interface FileState {
  /** Hash of the text read, or the reason the file was refused unread. */
  sig: string;
  result: PolicyResult;
  /** Existence checks `result` depended on. */
  deps: ExistsCheck[];
  /** The policy in force for this file (last good version). */
  active?: Policy;
  /** Issues last reported for this file, to avoid repeating the same event. */
  reported?: string;
  /** Missing at the last scan; removal is reported only when a second scan agrees, because
   *  editors that save by rename leave a short gap. */
  missing?: boolean;
}

/**
 * Scan `dir` now (events for the initial state are delivered before this returns), then on
 * every change. The handler must not throw; an exception from it is swallowed so a bad
 * consumer cannot stop the watcher.
 */
export function watchPolicyDir(dir: string, opts: WatchOptions, handler: (e: PolicyEvent) => void): PolicyWatcher {
  const state = new Map<string, FileState>();
  /** Entries named like policies that are not files, with what was reported about them. */
  const notFiles = new Map<string, string>();
  let closed = false;
  const emit = (e: PolicyEvent): void => {
    if (closed) return;
    try {
      handler(e);
    } catch {
      // Handler bugs are the caller's; the watcher keeps going.
    }
  };

  const settings: CheckSettings = { templatesDir: opts.templatesDir };
  if (opts.hardMax !== undefined) settings.hardMax = opts.hardMax;
  if (opts.checkFiles !== undefined) settings.checkFiles = opts.checkFiles;
  if (opts.unpausableDrivers !== undefined) settings.unpausableDrivers = [...opts.unpausableDrivers];
  const exists = opts.exists ?? ((p: string) => fs.existsSync(p));
  const ownChecker = opts.checker === undefined;
  const checker = opts.checker ?? (opts.exists ? inlineChecker(settings, opts.exists) : workerChecker(settings));

  let initial = true;
  /** Files that changed too recently to judge as invalid yet. */
  let young = new Set<string>();
  const settleMs = opts.settleMs ?? 500;

  /** One scan. With `sync` (the first) it checks on this thread and completes before returning. */
  const scanOnce = async (sync: boolean): Promise<void> => {
    young = new Set<string>();
    const { files, others, issue } = listPolicyFiles(dir);
    // An unreadable folder (EMFILE, a remount) must not look like every policy was deleted.
    if (issue) return;
    const present = new Set(files);
    const otherSet = new Set(others);
    let unconfirmed = false;
    for (const [file, st] of state) {
      if (present.has(file)) {
        st.missing = false;
        continue;
      }
      if (!st.missing) {
        st.missing = true;
        unconfirmed = true;
        continue;
      }
      state.delete(file);
      if (!st.active) emit({ kind: 'cleared', file });
      else if (otherSet.has(file)) emit({ kind: 'removed', pool: st.active.pool, file, reason: 'not-a-file', detail: `${file} ${notAFileIssue(file).message}` });
      else emit({ kind: 'removed', pool: st.active.pool, file, reason: 'deleted', detail: `${file} was deleted` });
    }
    if (unconfirmed) soon();
    for (const file of notFiles.keys()) {
      if (otherSet.has(file) || present.has(file)) continue;
      notFiles.delete(file);
      emit({ kind: 'cleared', file });
    }
    for (const file of others) {
      const i = notAFileIssue(file);
      if (notFiles.get(file) === i.message) continue;
      notFiles.set(file, i.message);
      emit({ kind: 'invalid', file, issues: [i] });
    }

    const todo: { file: string; sig: string; text?: string; refused?: CheckOutcome }[] = [];
    for (const file of files) {
      notFiles.delete(file);
      const read = readPolicyFile(file, dir);
      if (!read.ok && read.code === 'ENOENT') continue; // vanished after the listing: later scans see it gone
      const sig = read.ok ? crypto.createHash('sha256').update(read.text).digest('hex') : `refused: ${read.issue.message}`;
      const st = state.get(file);
      if (!initial && st?.sig !== sig && read.ok && Date.now() - read.mtimeMs < settleMs) young.add(file);
      if (st && st.sig === sig && (st.result.ok || depsUnchanged(st.deps, exists))) continue;
      todo.push(read.ok ? { file, sig, text: read.text } : { file, sig, refused: { result: { ok: false, issues: [read.issue] }, deps: [] } });
    }
    for (const item of todo) {
      const outcome = item.refused ?? (sync ? checkWithDeps(item.text!, item.file, settings, opts.exists) : await checker.check(item.text!, item.file));
      if (closed) return;
      const st = state.get(item.file);
      if (st) {
        if (st.sig !== item.sig) st.reported = undefined;
        st.sig = item.sig;
        st.result = outcome.result;
        st.deps = outcome.deps;
      } else state.set(item.file, { sig: item.sig, result: outcome.result, deps: outcome.deps });
    }
    settle(files);
    initial = false;
  };

  /** Give pools to valid files (repeating while pools are released) and report the outcome. */
  const settle = (files: string[]): void => {
    let changed = true;
    while (changed) {
      changed = false;
      const holder = new Map<string, string>();
      for (const [file, st] of state) if (st.active) holder.set(st.active.pool, file);
      for (const file of files) {
        const st = state.get(file);
        if (!st || st.missing) continue;
        const r = st.result;
        if (!r.ok) {
          report(file, st, r.issues, r.omitted);
          continue;
        }
        if (st.active === r.policy) continue;
        const owner = holder.get(r.policy.pool);
        if (owner !== undefined && owner !== file) {
          // A holder that just went missing is most likely this file's old name (a rename): the
          // rescan that confirms the removal hands the pool over; no error meanwhile.
          if (!state.get(owner)?.missing) report(file, st, [duplicatePoolIssue(file, r.poolAt, r.policy.pool, owner)]);
          continue;
        }
        if (st.active && st.active.pool !== r.policy.pool) {
          holder.delete(st.active.pool);
          emit({ kind: 'removed', pool: st.active.pool, file, reason: 'pool-changed', detail: `${file} now defines pool ${r.policy.pool}` });
          changed = true; // a released pool may unblock another file
        }
        st.active = r.policy;
        st.reported = undefined;
        holder.set(r.policy.pool, file);
        emit({ kind: 'loaded', policy: r.policy, warnings: r.warnings });
      }
    }
  };

  const report = (file: string, st: FileState, issues: ValidationIssue[], omitted = 0): void => {
    if (young.has(file)) {
      // Possibly half-written: look again once it has been quiet; report then if still bad.
      setTimeout(scan, settleMs).unref();
      return;
    }
    const key = `${omitted}:${JSON.stringify(issues)}`;
    if (st.reported === key) return;
    st.reported = key;
    emit(omitted > 0 ? { kind: 'invalid', file, issues, omitted } : { kind: 'invalid', file, issues });
  };

  let running: Promise<void> | undefined;
  let again = false;
  const scan = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = scanOnce(false)
      .catch(() => undefined) // a scan that throws (EMFILE) is retried by the next one
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          scan();
        }
      });
  };

  let timer: NodeJS.Timeout | undefined;
  const soon = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      scan();
    }, opts.debounceMs ?? 100);
  };

  let watcher: fs.FSWatcher | undefined;
  try {
    if (opts.fsWatch !== false) watcher = fs.watch(dir, { persistent: false }, soon);
    watcher?.on('error', () => {
      // The folder went away or the platform gave up: polling carries on alone.
      watcher?.close();
      watcher = undefined;
    });
  } catch {
    watcher = undefined; // folder missing now; the periodic scan picks it up later
  }
  void scanOnce(true);
  // The worker loads its modules in the background now, not when the first edit comes.
  checker.warm?.();
  const poll = setInterval(scan, opts.pollMs ?? 2000);
  poll.unref();

  return {
    close(): void {
      closed = true;
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      watcher?.close();
      if (ownChecker) checker.close();
    },
  };
}
