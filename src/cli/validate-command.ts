// `gridhost validate [FILE|DIR ...]`: check policy files (default: the configured policies
// folder) with every check the daemon makes, templates and images included.

import fs from 'node:fs';
import type { GridhostConfig } from '../config/config-types.ts';
import { formatIssue, type ValidationIssue } from '../errors/errors.ts';
import { checkPolicyFile, loadPolicyDir, type PolicyLoadOptions } from '../policy/load-policy.ts';

export interface CommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

type Outcome = { file: string; pool: string } | { file: string; issues: ValidationIssue[] };

/** Prints `ok FILE (pool NAME)` per good file to out and one line per issue to err; 1 if any issue. */
export async function runValidate(args: string[], io: CommandIo, config: GridhostConfig): Promise<number> {
  const opts: PolicyLoadOptions = { templatesDir: config.templatesDir, hardMax: config.limits.hardMax };
  const targets = args.length > 0 ? args : [config.policiesDir];
  let failed = false;
  for (const target of targets) {
    for (const o of check(target, opts)) {
      if ('issues' in o) {
        failed = true;
        for (const i of o.issues) io.err(formatIssue(i));
      } else io.out(`ok ${o.file} (pool ${o.pool})`);
    }
  }
  return failed ? 1 : 0;
}

function check(target: string, opts: PolicyLoadOptions): Outcome[] {
  let isDir: boolean;
  try {
    isDir = fs.statSync(target).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    return [{ file: target, issues: [{ file: target, line: 1, col: 1, path: '', message: `cannot read policy file or folder (${code})` }] }];
  }
  if (!isDir) {
    const r = checkPolicyFile(target, opts);
    return [r.ok ? { file: target, pool: r.policy.pool } : { file: target, issues: r.issues }];
  }
  const { policies, failures } = loadPolicyDir(target, opts);
  const outcomes: Outcome[] = [
    ...policies.map((p) => ({ file: p.file, pool: p.pool })),
    ...failures,
  ];
  return outcomes.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}
