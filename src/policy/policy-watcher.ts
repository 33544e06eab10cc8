// Watches the policy folder and reports what changed. fs.watch is fast but unreliable
// (editors rename, network filesystems drop events), so a periodic rescan backs it up;
// both paths run the same idempotent scan, which compares file contents by hash.
//
// The watcher only reports: when a file turns invalid, its last good policy stays in force
// (no event removes it) until the file is fixed or deleted. A pool held by one file is not
// taken over by another file that appears later, whatever the names; on the first scan the
// first file by name wins, as in loadPolicyDir.

import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Policy } from '../domain/policy.ts';
import type { ValidationIssue } from '../errors/errors.ts';
import { checkPolicyText, duplicatePoolIssue, listPolicyFiles, type PolicyLoadOptions } from './load-policy.ts';
import type { PolicyResult } from './parse-policy.ts';

export type PolicyEvent =
  | { kind: 'loaded'; policy: Policy }
  | { kind: 'invalid'; file: string; issues: ValidationIssue[] }
  | { kind: 'removed'; pool: string; file: string };

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
}

export interface PolicyWatcher {
  close(): void;
}

interface FileState {
  hash: string;
  result: PolicyResult;
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
  let closed = false;
  const emit = (e: PolicyEvent): void => {
    if (closed) return;
    try {
      handler(e);
    } catch {
      // Handler bugs are the caller's; the watcher keeps going.
    }
  };

  let initial = true;
  /** Files that changed too recently to judge as invalid yet. */
  let young = new Set<string>();
  const settleMs = opts.settleMs ?? 500;

  const scan = (): void => {
    if (closed) return;
    young = new Set<string>();
    const { files, issue } = listPolicyFiles(dir);
    // An unreadable folder (EMFILE, a remount) must not look like every policy was deleted.
    if (issue) return;
    const present = new Set(files);
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
      if (st.active) emit({ kind: 'removed', pool: st.active.pool, file });
    }
    if (unconfirmed) soon();
    for (const file of files) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue; // vanished between listing and reading: later scans see it gone
      }
      const hash = crypto.createHash('sha256').update(text).digest('hex');
      const st = state.get(file);
      if (!initial && st?.hash !== hash) {
        try {
          if (Date.now() - fs.statSync(file).mtimeMs < settleMs) young.add(file);
        } catch {
          /* vanished: a later scan sees it gone */
        }
      }
      // Invalid files are re-checked every scan: a missing template may have appeared since.
      if (st && st.hash === hash && st.result.ok) continue;
      const result = checkPolicyText(text, file, opts);
      if (st) {
        if (st.hash !== hash) st.reported = undefined;
        st.hash = hash;
        st.result = result;
      } else state.set(file, { hash, result });
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
          report(file, st, r.issues);
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
          emit({ kind: 'removed', pool: st.active.pool, file });
          changed = true; // a released pool may unblock another file
        }
        st.active = r.policy;
        st.reported = undefined;
        holder.set(r.policy.pool, file);
        emit({ kind: 'loaded', policy: r.policy });
      }
    }
  };

  const report = (file: string, st: FileState, issues: ValidationIssue[]): void => {
    if (young.has(file)) {
      // Possibly half-written: look again once it has been quiet; report then if still bad.
      setTimeout(scan, settleMs).unref();
      return;
    }
    const key = JSON.stringify(issues);
    if (st.reported === key) return;
    st.reported = key;
    emit({ kind: 'invalid', file, issues });
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
  scan();
  const poll = setInterval(scan, opts.pollMs ?? 2000);
  poll.unref();

  return {
    close(): void {
      closed = true;
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
