// `gridhost validate [--config FILE] [PATH ...]`: check the configuration and policy files with
// every check the daemon makes, templates and images included. A PATH that is a config file
// (gridhost.yaml, the --config file, or any file whose top-level keys are config keys) is
// checked as one; anything else as a policy file or a folder of them.

import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, parseDocument } from 'yaml';
import type { GridhostConfig } from '../config/config-types.ts';
import { CONFIG_MAX_BYTES, CONFIG_TOP_KEYS, checkConfigFile, DEFAULTS_SOURCE } from '../config/load-config.ts';
import { PolicyError, formatIssue, type ValidationIssue } from '../errors/errors.ts';
import { checkPolicyFile, loadPolicyDir, type PolicyLoadOptions } from '../policy/load-policy.ts';
import { POLICY_TOP_KEYS } from '../policy/parse-policy.ts';
import { UsageError, type CommandIo } from './command-io.ts';

/** Issues printed per file unless --all. */
export const VALIDATE_MAX_ISSUES = 100;

export const VALIDATE_USAGE = `usage: gridhost validate [--config FILE] [--strict] [--all] [PATH...]

Checks the configuration and policy files with every check \`gridhost run\` makes (templates and
images included). Prints "ok FILE (pool NAME)" or "ok FILE (config)" per good file and one line
per problem: FILE:LINE:COL: path: message (found VALUE).

  PATH            a policy file, a folder of policies, or a config file (gridhost.yaml, or any
                  file whose top-level keys are config keys). Default: the config in use and
                  the policies folder it names
  --config FILE   the config to use and check (default ./gridhost.yaml or $GRIDHOST_CONFIG)
  --strict        warnings (e.g. a file named unlike its pool) fail like errors
  --all           print every issue of a file (default: the first ${VALIDATE_MAX_ISSUES})

exit status: 0 no errors (warnings allowed), 1 an error was found, 2 usage error`;

interface ValidateArgs {
  config?: string;
  strict: boolean;
  all: boolean;
  paths: string[];
}

export function parseValidateArgs(argv: readonly string[]): ValidateArgs {
  const a: ValidateArgs = { strict: false, all: false, paths: [] };
  let options = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!options || !arg.startsWith('-') || arg === '-') a.paths.push(arg);
    else if (arg === '--') options = false;
    else if (arg === '--strict') a.strict = true;
    else if (arg === '--all') a.all = true;
    else if (arg === '--config' || arg.startsWith('--config=')) {
      const v = arg === '--config' ? argv[++i] : arg.slice('--config='.length);
      if (v === undefined || v.trim() === '') throw new UsageError('--config needs a file');
      a.config = v;
    } else throw new UsageError(`unknown option "${arg}" (a file whose name starts with "-": put it after --)`);
  }
  return a;
}

type Outcome =
  | { file: string; ok: string; warnings: ValidationIssue[] }
  | { file: string; issues: ValidationIssue[] };

/**
 * `load(file)` loads the config (file: --config, else the default lookup); it throws
 * PolicyError with the config's issues. Returns the exit status.
 */
export async function runValidate(argv: string[], io: CommandIo, load: (file?: string) => GridhostConfig): Promise<number> {
  const args = parseValidateArgs(argv);
  let config: GridhostConfig;
  try {
    config = load(args.config);
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    for (const i of e.issues) io.err(formatIssue(i));
    io.err('gridhost validate: the configuration is invalid; policies are checked once it is valid');
    return 1;
  }
  const opts: PolicyLoadOptions = { templatesDir: config.templatesDir, hardMax: config.limits.hardMax, prometheus: config.prometheus !== undefined };
  const outcomes: Outcome[] = [];
  if ((args.paths.length === 0 || args.config !== undefined) && config.source !== DEFAULTS_SOURCE) {
    outcomes.push({ file: config.source, ok: 'config', warnings: [] });
  }
  const targets = args.paths.length > 0 ? args.paths : [config.policiesDir];
  for (const target of targets) {
    // The config in use was checked by loading it.
    if (config.source !== DEFAULTS_SOURCE && path.resolve(target) === config.source) {
      if (!outcomes.some((o) => o.file === config.source)) outcomes.push({ file: config.source, ok: 'config', warnings: [] });
      continue;
    }
    outcomes.push(...check(target, opts));
  }
  let failed = false;
  for (const o of outcomes) {
    const issues = 'issues' in o ? o.issues : o.warnings;
    if ('issues' in o || (args.strict && issues.length > 0)) failed = true;
    if ('ok' in o) io.out(`ok ${o.file} (${o.ok})`);
    const shown = args.all ? issues : issues.slice(0, VALIDATE_MAX_ISSUES);
    for (const i of shown) io.err(formatIssue(i));
    if (shown.length < issues.length) io.err(`${o.file}: ${issues.length - shown.length} more issues not shown (--all shows every one)`);
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
    if (isConfigFile(target)) {
      const issues = checkConfigFile(path.resolve(target));
      return [issues.length > 0 ? { file: target, issues } : { file: target, ok: 'config', warnings: [] }];
    }
    const r = checkPolicyFile(target, opts);
    return [r.ok ? { file: target, ok: `pool ${r.policy.pool}`, warnings: r.warnings } : { file: target, issues: r.issues }];
  }
  const { policies, failures, warnings } = loadPolicyDir(target, opts);
  const outcomes: Outcome[] = [
    ...policies.map((p) => ({ file: p.file, ok: `pool ${p.pool}`, warnings: warnings.filter((w) => w.file === p.file) })),
    ...failures,
  ];
  return outcomes.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

const CONFIG_NAMES = new Set(['gridhost.yaml', 'gridhost.yml']);

/** gridhost.yaml by name, or a YAML mapping with config keys and no policy keys. */
export function isConfigFile(file: string): boolean {
  if (CONFIG_NAMES.has(path.basename(file))) return true;
  try {
    if (fs.statSync(file).size > CONFIG_MAX_BYTES) return false;
    const doc = parseDocument(fs.readFileSync(file, 'utf8'));
    if (!isMap(doc.contents)) return false;
    const keys = doc.contents.items.map((p) => (isScalar(p.key) ? String(p.key.value) : ''));
    const config = new Set<string>(CONFIG_TOP_KEYS);
    const policy = new Set<string>(POLICY_TOP_KEYS);
    return keys.some((k) => config.has(k)) && !keys.some((k) => policy.has(k));
  } catch {
    return false;
  }
}
