// Loading policy files from disk. A bad file never stops the good ones: the folder loader
// returns the valid policies and, separately, every file's issues.

import fs from 'node:fs';
import path from 'node:path';
import type { Policy } from '../domain/policy.ts';
import { PolicyError, type ValidationIssue } from '../errors/errors.ts';
import { tryParsePolicy, type PolicyOptions, type PolicyResult } from './parse-policy.ts';

export interface PolicyLoadOptions extends Omit<PolicyOptions, 'exists'> {
  /** Check that guest.template / guest.image exist (default true). The simulator turns it off. */
  checkFiles?: boolean;
  /** Replaces the real file-system check (tests). Ignored when checkFiles is false. */
  exists?: (absPath: string) => boolean;
}

export interface PolicyFailure {
  file: string;
  issues: ValidationIssue[];
}

export interface PolicyDirResult {
  /** Valid policies, one per pool, in file-name order. */
  policies: Policy[];
  failures: PolicyFailure[];
  /** Warnings of the valid policies (severity 'warning'), in file-name order. */
  warnings: ValidationIssue[];
}

/**
 * Largest policy file read. web.yaml, every key commented, is 4 KiB; a file above the limit is
 * refused unread, so a stray dump or binary in the folder costs nothing to reject.
 */
export const POLICY_MAX_BYTES = 64 * 1024;

export function isPolicyFileName(name: string): boolean {
  // Dotfiles are editor droppings (.#web.yaml) and never policies.
  return !name.startsWith('.') && /\.ya?ml$/.test(name);
}

function toParseOptions(opts: PolicyLoadOptions): PolicyOptions {
  const base: PolicyOptions = { templatesDir: opts.templatesDir };
  if (opts.hardMax !== undefined) base.hardMax = opts.hardMax;
  if (opts.prometheus !== undefined) base.prometheus = opts.prometheus;
  if (opts.unpausableDrivers !== undefined) base.unpausableDrivers = opts.unpausableDrivers;
  if (opts.checkFiles !== false) base.exists = opts.exists ?? ((p) => fs.existsSync(p));
  return base;
}

function fileIssue(file: string, message: string): ValidationIssue {
  return { file, line: 1, col: 1, path: '', message };
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

/** What is at a policy path, judged without reading it. */
export type PolicyStat =
  | { ok: true; size: number; mtimeMs: number; /** The file read: the path itself or, for a symlink, its target. */ real: string }
  | { ok: false; issue: ValidationIssue; /** errno code when the file system refused. */ code?: string };

/**
 * Checks that `file` may be read as a policy of folder `dir` (default: the folder it is in): a
 * regular file, at most POLICY_MAX_BYTES, and when it is a symlink, one whose target lies
 * inside the folder (a link to /etc/passwd must not have its contents parsed and quoted back).
 */
export function statPolicyFile(file: string, dir = path.dirname(file)): PolicyStat {
  try {
    let real = file;
    if (fs.lstatSync(file).isSymbolicLink()) {
      real = fs.realpathSync(file);
      const inside = path.relative(realDir(dir), real);
      if (inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
        return { ok: false, issue: fileIssue(file, `is a symlink to ${real}, outside the policies folder ${dir}; refused: a policy file must be in the policies folder (a link may point only to a file inside it)`) };
      }
    }
    const st = fs.statSync(real);
    if (st.isDirectory()) return { ok: false, issue: fileIssue(file, 'is a directory, not a policy file') };
    if (!st.isFile()) return { ok: false, issue: fileIssue(file, 'is not a regular file') };
    if (st.size > POLICY_MAX_BYTES) return { ok: false, issue: fileIssue(file, `policy file is ${st.size} bytes; the limit is ${POLICY_MAX_BYTES} bytes (${POLICY_MAX_BYTES / 1024} KiB)`) };
    return { ok: true, size: st.size, mtimeMs: st.mtimeMs, real };
  } catch (e) {
    return { ok: false, issue: fileIssue(file, `cannot read policy file (${errCode(e)})`), code: errCode(e) };
  }
}

function realDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** Read a policy file after statPolicyFile's checks; the read itself is capped too (a file may grow in between). */
export function readPolicyFile(file: string, dir?: string): { ok: true; text: string; mtimeMs: number } | { ok: false; issue: ValidationIssue; code?: string } {
  const st = statPolicyFile(file, dir);
  if (!st.ok) return st;
  let fd: number | undefined;
  try {
    fd = fs.openSync(st.real, 'r');
    const buf = Buffer.alloc(POLICY_MAX_BYTES + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    if (n > POLICY_MAX_BYTES) return { ok: false, issue: fileIssue(file, `policy file is over the limit of ${POLICY_MAX_BYTES} bytes (${POLICY_MAX_BYTES / 1024} KiB)`) };
    return { ok: true, text: buf.toString('utf8', 0, n), mtimeMs: st.mtimeMs };
  } catch (e) {
    return { ok: false, issue: fileIssue(file, `cannot read policy file (${errCode(e)})`), code: errCode(e) };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Read and check one file; never throws (a read error is an issue). */
export function checkPolicyFile(file: string, opts: PolicyLoadOptions, dir?: string): PolicyResult {
  const read = readPolicyFile(file, dir);
  if (!read.ok) return { ok: false, issues: [read.issue] };
  return checkPolicyText(read.text, file, opts);
}

/** Check text already read from `file` (the watcher hashes what it read, then checks that). */
export function checkPolicyText(text: string, file: string, opts: PolicyLoadOptions): PolicyResult {
  return tryParsePolicy(text, file, toParseOptions(opts));
}

/** Load one policy file; throws PolicyError (GH_POLICY_INVALID) listing every issue. */
export function loadPolicyFile(file: string, opts: PolicyLoadOptions): Policy {
  const r = checkPolicyFile(file, opts);
  if (!r.ok) throw new PolicyError(r.issues);
  return r.policy;
}

export interface PolicyListing {
  /** Files named like policies (regular files and symlinks to files), sorted by name. */
  files: string[];
  /** Entries named like policies that are not files (a directory, a dangling symlink), sorted. */
  others: string[];
  /** Set when the folder itself cannot be read. */
  issue?: ValidationIssue;
}

/** The policy files of a folder, sorted by name; an unreadable folder is an issue. */
export function listPolicyFiles(dir: string): PolicyListing {
  const files: string[] = [];
  const others: string[] = [];
  try {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => isPolicyFileName(d.name));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of entries) {
      const p = path.join(dir, d.name);
      if (d.isFile() || (d.isSymbolicLink() && isFile(p))) files.push(p);
      else others.push(p);
    }
  } catch (e) {
    return { files: [], others: [], issue: fileIssue(dir, `cannot read policy folder (${errCode(e)})`) };
  }
  return { files, others };
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function duplicatePoolIssue(file: string, at: { line: number; col: number }, pool: string, holder: string): ValidationIssue {
  return {
    file,
    line: at.line,
    col: at.col,
    path: 'pool',
    message: `pool "${pool}" is already defined by ${holder}; each pool has exactly one policy file`,
    found: pool,
  };
}

/** Load every *.yaml / *.yml in `folder` (file names in the result are absolute). Two files with one pool: the first by name wins. */
export function loadPolicyDir(folder: string, opts: PolicyLoadOptions): PolicyDirResult {
  // Absolute throughout, so issue file names and Policy.file agree.
  const dir = path.resolve(folder);
  const { files, others, issue } = listPolicyFiles(dir);
  if (issue) return { policies: [], failures: [{ file: dir, issues: [issue] }], warnings: [] };
  const policies: Policy[] = [];
  const failures: PolicyFailure[] = others.map((file) => ({ file, issues: [notAFileIssue(file)] }));
  const warnings: ValidationIssue[] = [];
  if (files.length === 0) return { policies, failures: [...failures, { file: dir, issues: [fileIssue(dir, 'no policy files found (*.yaml or *.yml)')] }], warnings };
  const owner = new Map<string, string>();
  for (const file of files) {
    const r = checkPolicyFile(file, opts, dir);
    if (!r.ok) {
      failures.push({ file, issues: r.issues });
      continue;
    }
    const holder = owner.get(r.policy.pool);
    if (holder !== undefined) {
      failures.push({ file, issues: [duplicatePoolIssue(file, r.poolAt, r.policy.pool, holder)] });
      continue;
    }
    owner.set(r.policy.pool, file);
    policies.push(r.policy);
    warnings.push(...r.warnings);
  }
  return { policies, failures, warnings };
}

/** A *.yaml entry of the folder that is not a file. */
export function notAFileIssue(file: string): ValidationIssue {
  const st = statPolicyFile(file);
  return st.ok ? fileIssue(file, 'is not a regular file') : st.issue;
}
