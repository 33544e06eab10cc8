// The local driver's process template: what to spawn for one guest. YAML with exactly
// `command`, `args`, `env`; placeholders {{port}} {{guest}} {{pool}} {{dir}} are substituted
// into those strings (argv and env, never a shell). {{port}} is always 0: the guest listens on a
// port of the kernel's choosing, which the driver reads from its socket (listening-port.ts).
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { GridhostError } from '../../../errors/errors.ts';
import { sha256 } from '../../clone/source-digest.ts';

export interface ProcessTemplate {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface TemplateVars {
  port: string;
  guest: string;
  pool: string;
  dir: string;
}

const KEYS = ['command', 'args', 'env'];
const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;
const VAR_NAMES: readonly string[] = ['port', 'guest', 'pool', 'dir'];

function invalid(file: string, why: string): GridhostError {
  return new GridhostError('GH_TEMPLATE_INVALID', `${file}: ${why}`, { template: file });
}

/** Reads and validates a process template. Rejects with GH_TEMPLATE_INVALID naming the file. */
export async function loadProcessTemplate(file: string): Promise<ProcessTemplate> {
  return (await readProcessTemplate(file)).template;
}

/** loadProcessTemplate(), with the `sha256:` digest of exactly the bytes it read (a guest
 *  records what it was made from; a rollout compares it with the file's digest now). */
export async function readProcessTemplate(file: string): Promise<{ template: ProcessTemplate; digest: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw invalid(file, `cannot read the guest template: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw invalid(file, `not valid YAML: ${(e as Error).message}`);
  }
  return { template: validateProcessTemplate(doc, file), digest: `sha256:${sha256(text)}` };
}

/** The digest readProcessTemplate() gives, without validating (GH_TEMPLATE_INVALID when unreadable). */
export async function processTemplateDigest(file: string): Promise<string> {
  try {
    return `sha256:${sha256(await readFile(file, 'utf8'))}`;
  } catch (e) {
    throw invalid(file, `cannot read the guest template: ${(e as Error).message}`);
  }
}

export function validateProcessTemplate(doc: unknown, file: string): ProcessTemplate {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid(file, 'must be a mapping with command, args and env');
  const o = doc as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) throw invalid(file, `unknown key(s) ${unknown.join(', ')}; allowed: ${KEYS.join(', ')}`);
  if (typeof o.command !== 'string' || o.command.trim() === '') throw invalid(file, 'command must be a non-empty string');
  const args = o.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw invalid(file, 'args must be a list of strings (quote numbers)');
  const envIn = o.env ?? {};
  if (typeof envIn !== 'object' || envIn === null || Array.isArray(envIn)) throw invalid(file, 'env must be a mapping of NAME: "value"');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(envIn)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalid(file, `env name ${JSON.stringify(k)} is not a valid variable name`);
    if (typeof v === 'string') env[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') env[k] = String(v);
    else throw invalid(file, `env.${k} must be a string`);
  }
  const tpl: ProcessTemplate = { command: o.command, args: args as string[], env };
  for (const s of [tpl.command, ...tpl.args, ...Object.values(tpl.env)]) checkPlaceholders(s, file);
  return tpl;
}

function checkPlaceholders(s: string, file: string): void {
  for (const m of s.matchAll(PLACEHOLDER)) {
    if (!VAR_NAMES.includes(m[1] ?? '')) {
      throw invalid(file, `unknown placeholder ${m[0]}; use {{port}}, {{guest}}, {{pool}} or {{dir}}`);
    }
  }
}

/** Substitutes the placeholders into command, args and env values. */
export function renderProcessTemplate(tpl: ProcessTemplate, vars: TemplateVars): ProcessTemplate {
  const sub = (s: string): string => s.replace(PLACEHOLDER, (all, name: string) => (VAR_NAMES.includes(name) ? vars[name as keyof TemplateVars] : all));
  return {
    command: sub(tpl.command),
    args: tpl.args.map(sub),
    env: Object.fromEntries(Object.entries(tpl.env).map(([k, v]) => [k, sub(v)])),
  };
}
