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
}

export function isPolicyFileName(name: string): boolean {
  // Dotfiles are editor droppings (.#web.yaml) and never policies.
  return !name.startsWith('.') && /\.ya?ml$/.test(name);
}

function toParseOptions(opts: PolicyLoadOptions): PolicyOptions {
  const base: PolicyOptions = { templatesDir: opts.templatesDir };
  if (opts.hardMax !== undefined) base.hardMax = opts.hardMax;
  if (opts.checkFiles !== false) base.exists = opts.exists ?? ((p) => fs.existsSync(p));
  return base;
}

function fileIssue(file: string, message: string): ValidationIssue {
  return { file, line: 1, col: 1, path: '', message };
}

/** Read and check one file; never throws (a read error is an issue). */
export function checkPolicyFile(file: string, opts: PolicyLoadOptions): PolicyResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return { ok: false, issues: [fileIssue(file, `cannot read policy file (${code})`)] };
  }
  return checkPolicyText(text, file, opts);
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

/** The policy files of a folder, sorted by name; an unreadable folder is an issue. */
export function listPolicyFiles(dir: string): { files: string[]; issue?: ValidationIssue } {
  let names: string[];
  try {
    names = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => isPolicyFileName(d.name) && (d.isFile() || (d.isSymbolicLink() && isFile(path.join(dir, d.name)))))
      .map((d) => d.name);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return { files: [], issue: fileIssue(dir, `cannot read policy folder (${code})`) };
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { files: names.map((n) => path.join(dir, n)) };
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
  const { files, issue } = listPolicyFiles(dir);
  if (issue) return { policies: [], failures: [{ file: dir, issues: [issue] }] };
  if (files.length === 0) return { policies: [], failures: [{ file: dir, issues: [fileIssue(dir, 'no policy files found (*.yaml or *.yml)')] }] };
  const policies: Policy[] = [];
  const failures: PolicyFailure[] = [];
  const owner = new Map<string, string>();
  for (const file of files) {
    const r = checkPolicyFile(file, opts);
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
  }
  return { policies, failures };
}
