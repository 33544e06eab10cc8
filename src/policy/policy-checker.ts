// Checking policy text off the main thread. The builtin balancer and the API share gridhost's
// event loop, and the yaml library is slow on big inputs (a 64 KiB policy of 6,700 keys took
// 100-800 ms to check on the 2-core development machine; web.yaml 3-19 ms), so after start-up
// the watcher checks files in one worker thread and the event loop only waits for a message.
//
// A check also records which files' existence it asked about (template, image): an invalid
// result is checked again only when one of them appears or goes, never on every scan.

import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { ValidationIssue } from '../errors/errors.ts';
import { deepFreeze } from './deep-freeze.ts';
import { tryParsePolicy, type PolicyOptions, type PolicyResult } from './parse-policy.ts';

/** What a worker can be given: plain data (no functions cross threads). */
export interface CheckSettings {
  templatesDir: string;
  hardMax?: number;
  /** Check that guest.template / guest.image exist (default true). */
  checkFiles?: boolean;
  /** PolicyOptions.unpausableDrivers. */
  unpausableDrivers?: readonly string[];
}

export interface ExistsCheck {
  path: string;
  exists: boolean;
}

export interface CheckOutcome {
  result: PolicyResult;
  /** The existence checks the result depended on, with their answers. */
  deps: ExistsCheck[];
}

export interface PolicyChecker {
  check(text: string, file: string): Promise<CheckOutcome>;
  /** Get ready for the first check now (start the worker), so it does not wait for that. */
  warm?(): void;
  /** Stops the worker; pending checks resolve with an issue. */
  close(): void;
}

/**
 * Issues a worker sends back per file; the rest are counted. Copying 5,000 issues between threads
 * (and comparing them with the last report) took 30-45 ms of the event loop on a loaded machine;
 * the log shows 10 of them anyway, and `gridhost validate --all` all of them.
 */
export const WORKER_MAX_ISSUES = 100;

/** `o` with at most `max` issues, the rest counted in `omitted`. */
export function capIssues(o: CheckOutcome, max = WORKER_MAX_ISSUES): CheckOutcome {
  const r = o.result;
  if (r.ok || r.issues.length <= max) return o;
  return { ...o, result: { ok: false, issues: r.issues.slice(0, max), omitted: (r.omitted ?? 0) + r.issues.length - max } };
}

/** Check on this thread, recording existence checks. `exists` replaces the real one (tests). */
export function checkWithDeps(text: string, file: string, s: CheckSettings, exists?: (p: string) => boolean): CheckOutcome {
  const deps: ExistsCheck[] = [];
  const opts: PolicyOptions = { templatesDir: s.templatesDir };
  if (s.hardMax !== undefined) opts.hardMax = s.hardMax;
  if (s.unpausableDrivers !== undefined) opts.unpausableDrivers = s.unpausableDrivers;
  if (s.checkFiles !== false) {
    const real = exists ?? ((p: string) => fs.existsSync(p));
    opts.exists = (p) => {
      const e = real(p);
      deps.push({ path: p, exists: e });
      return e;
    };
  }
  return { result: tryParsePolicy(text, file, opts), deps };
}

/** True when every recorded existence check would answer the same now. */
export function depsUnchanged(deps: readonly ExistsCheck[], exists: (p: string) => boolean = (p) => fs.existsSync(p)): boolean {
  return deps.every((d) => exists(d.path) === d.exists);
}

/** Checks on the calling thread (the CLI, tests, and the watcher's first scan at start-up). */
export function inlineChecker(s: CheckSettings, exists?: (p: string) => boolean): PolicyChecker {
  return {
    check: async (text, file) => checkWithDeps(text, file, s, exists),
    close: () => undefined,
  };
}

export interface WorkerCheckerOptions {
  /** A check that has not answered by then is abandoned (the worker is replaced). Default 10 s,
   *  counted from when the worker is ready. */
  timeoutMs?: number;
  /** How long the worker may take to start (load its modules). Default 60 s. */
  startTimeoutMs?: number;
}

/** Heap cap of the worker: a pathological file fails its own check, not gridhost. */
const WORKER_HEAP_MB = 256;

interface Pending {
  file: string;
  resolve: (o: CheckOutcome) => void;
  /** Set once the worker is ready: a check's time starts then. */
  timer?: NodeJS.Timeout;
}

function failed(file: string, message: string): CheckOutcome {
  const issue: ValidationIssue = { file, line: 1, col: 1, path: '', message };
  return { result: { ok: false, issues: [issue] }, deps: [] };
}

/**
 * One worker thread, started at the first check and kept (unref'd: it never holds the process
 * open). Checks are answered in order. A crash or a timeout fails the checks in flight with an
 * issue naming what happened, and the next check starts a new worker.
 */
export function workerChecker(s: CheckSettings, o: WorkerCheckerOptions = {}): PolicyChecker {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const startTimeoutMs = o.startTimeoutMs ?? 60_000;
  let worker: Worker | undefined;
  let ready = false;
  let startTimer: NodeJS.Timeout | undefined;
  let nextId = 0;
  const pending = new Map<number, Pending>();

  const arm = (p: Pending): void => {
    p.timer = setTimeout(() => {
      // A check that hangs takes its worker with it; the others in flight are failed too and
      // are checked again at the next scan.
      stop();
      failAll((f) => (f === p.file ? `checking this policy took longer than ${timeoutMs / 1000}s; refused` : 'the policy check was interrupted; it is checked again at the next scan'));
    }, timeoutMs);
    p.timer.unref();
  };

  const failAll = (message: (file: string) => string): void => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      pending.delete(id);
      p.resolve(failed(p.file, message(p.file)));
    }
  };
  const stop = (): void => {
    const w = worker;
    worker = undefined;
    ready = false;
    clearTimeout(startTimer);
    void w?.terminate();
  };
  const start = (): Worker => {
    const w = new Worker(bootstrap(), { eval: true, workerData: s, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    w.unref();
    startTimer = setTimeout(() => {
      stop();
      failAll(() => `the policy checker thread did not start within ${startTimeoutMs / 1000}s; the file is checked again at the next scan`);
    }, startTimeoutMs);
    startTimer.unref();
    w.on('message', (m: { ready?: true; id: number; outcome?: CheckOutcome; error?: string }) => {
      if (m.ready) {
        if (worker !== w) return;
        ready = true;
        clearTimeout(startTimer);
        for (const p of pending.values()) arm(p);
        return;
      }
      const p = pending.get(m.id);
      if (!p) return;
      clearTimeout(p.timer);
      pending.delete(m.id);
      if (m.outcome) {
        if (m.outcome.result.ok) m.outcome.result.policy = deepFreeze(m.outcome.result.policy);
        p.resolve(m.outcome);
      } else p.resolve(failed(p.file, `the policy check failed: ${m.error ?? 'unknown error'}`));
    });
    const lost = (why: string): void => {
      if (worker !== w) return;
      stop();
      failAll(() => `the policy check failed: ${why}`);
    };
    w.on('error', (e) => lost(e.message));
    w.on('exit', (code) => lost(`its worker thread exited (code ${code})`));
    return w;
  };

  return {
    warm() {
      worker ??= start();
    },
    check(text, file) {
      return new Promise<CheckOutcome>((resolve) => {
        worker ??= start();
        const id = nextId++;
        const p: Pending = { file, resolve };
        pending.set(id, p);
        if (ready) arm(p);
        worker.postMessage({ id, text, file });
      });
    },
    close() {
      stop();
      failAll(() => 'the policy watcher was closed');
    },
  };
}

/** The worker's entry: tsx's loader first when gridhost runs as TypeScript (no build step). */
function bootstrap(): string {
  const entry = new URL(`./check-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
  if (!entry.endsWith('.ts')) return `import(${JSON.stringify(entry)});`;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}
