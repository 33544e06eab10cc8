// The `hooks:` section of a policy: before_register / before_retire, each a command (an
// argument array, never a shell string) or an HTTP call, with a timeout and on_failure.
import path from 'node:path';
import { isSeq } from 'yaml';
import { HOOK_NAMES, type Hook, type HookName, type HttpHook } from '../domain/policy.ts';
import { unknownPlaceholders, HOOK_PLACEHOLDERS } from '../drivers/hooks/hook-placeholders.ts';
import type { Field, YamlReader } from './yaml-reader.ts';

export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;
const MAX_HOOK_TIMEOUT_MS = 3_600_000;
const METHODS = ['POST', 'PUT', 'GET', 'DELETE'] as const;
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const PRINTABLE_RE = /^[^\p{Cc}]*$/u;
const PLACEHOLDER_LIST = HOOK_PLACEHOLDERS.map((p) => `{{${p}}}`).join(' ');

export interface HookOptions {
  templatesDir: string;
  exists?: (absPath: string) => boolean;
}

export function parseHooks(r: YamlReader, f: Field, opts: HookOptions): Partial<Record<HookName, Hook>> {
  const m = r.map(f, HOOK_NAMES);
  const out: Partial<Record<HookName, Hook>> = {};
  if (m === undefined) return out;
  for (const name of HOOK_NAMES) {
    if (!m.has(name)) continue;
    const h = parseHook(r, m.get(name), opts);
    if (h !== undefined) out[name] = h;
  }
  return out;
}

function parseHook(r: YamlReader, f: Field, opts: HookOptions): Hook | undefined {
  const m = r.map(f, ['command', 'http', 'timeout', 'on_failure']);
  if (m === undefined) return undefined;
  const timeoutMs = r.duration(m.get('timeout'), { def: DEFAULT_HOOK_TIMEOUT_MS, positive: true });
  if (timeoutMs !== undefined && timeoutMs > MAX_HOOK_TIMEOUT_MS) r.issue(m.get('timeout'), 'must be at most 1h (a guest waits for its hook)');
  const onFailure = r.oneOf(m.get('on_failure'), ['abandon', 'continue'] as const, { def: 'abandon' });
  if (m.has('command') === m.has('http')) {
    r.issue(m.has('http') ? m.get('http') : f, 'a hook is exactly one of command (an argument list) or http (a URL to call)');
    return undefined;
  }
  const common = { timeoutMs: timeoutMs as number, onFailure: onFailure as 'abandon' | 'continue' };
  if (m.has('command')) {
    const command = parseCommand(r, m.get('command'), opts);
    return command === undefined ? undefined : { kind: 'command', command, ...common };
  }
  const http = parseHttp(r, m.get('http'));
  return http === undefined ? undefined : { kind: 'http', ...http, ...common };
}

function parseCommand(r: YamlReader, f: Field, opts: HookOptions): string[] | undefined {
  if (f.value !== undefined && !isSeq(f.value)) {
    r.issue(f, 'must be a list: the program, then each argument, e.g. [/usr/local/bin/warm-cache, "{{address}}"]; a shell command line is never run');
    return undefined;
  }
  const items = r.seq(f, { nonEmpty: true, what: 'the program and its arguments' }) ?? [];
  const args: string[] = [];
  let ok = items.length > 0;
  for (const item of items) {
    const v = r.str(item, { required: true });
    if (v === undefined) {
      ok = false;
      continue;
    }
    const unknown = unknownPlaceholders(v);
    if (v.includes('\0')) {
      r.issue(item, 'must not contain a NUL character');
      ok = false;
    } else if (unknown.length > 0) {
      r.issue(item, `unknown placeholder ${unknown[0]}; use ${PLACEHOLDER_LIST}`);
      ok = false;
    }
    args.push(v);
  }
  if (!ok) return undefined;
  const program = args[0]!;
  if (program.trim() === '' || /\{\{/.test(program)) {
    r.issue(items[0]!, 'the program must be a fixed name or path (placeholders go in the arguments)');
    return undefined;
  }
  if (program.includes('/') && !path.isAbsolute(program)) {
    // Relative to the templates folder, like guest.template, and never outside it.
    const dir = path.resolve(opts.templatesDir);
    const abs = path.resolve(dir, program);
    const inside = path.relative(dir, abs);
    if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) {
      r.issue(items[0]!, `a relative program path must stay inside the templates folder (${dir})`);
      return undefined;
    }
    args[0] = abs;
  }
  if (path.isAbsolute(args[0]!) && opts.exists && !opts.exists(args[0]!)) {
    r.issue(items[0]!, `program not found: ${args[0]}`);
    return undefined;
  }
  return args;
}

function parseHttp(r: YamlReader, f: Field): Omit<HttpHook, 'kind' | 'timeoutMs' | 'onFailure'> | undefined {
  // Not required in the schema's sense: a hook has http or command (checked by the caller).
  const m = r.map(f, ['url', 'method', 'headers']);
  if (m === undefined) return undefined;
  const url = r.str(m.get('url'), { required: true });
  const method = r.oneOf(m.get('method'), METHODS, { def: 'POST' });
  let ok = url !== undefined && method !== undefined;
  if (url !== undefined) {
    const unknown = unknownPlaceholders(url);
    let parsed: URL | undefined;
    try {
      // Placeholders are percent-encoded values: a stand-in shows whether the URL is well formed.
      parsed = new URL(url.replace(/\{\{\s*[a-z]+\s*\}\}/g, 'x'));
    } catch {
      parsed = undefined;
    }
    if (unknown.length > 0) {
      r.issue(m.get('url'), `unknown placeholder ${unknown[0]}; use ${PLACEHOLDER_LIST}`);
      ok = false;
    } else if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
      // Never echo a URL: it may carry credentials.
      r.secretIssue(m.get('url'), 'must be an http:// or https:// URL, e.g. http://monitor.example:9000/api/hosts/{{guest}}');
      ok = false;
    }
  }
  const headers: Record<string, string> = {};
  const hf = m.get('headers');
  // Read entry by entry below; the schema sees a mapping of header names to strings.
  r.describe(hf, { type: 'object', description: 'HTTP headers sent with the call (not content-type or content-length)', additionalProperties: { type: 'string' } });
  if (hf.value !== undefined) {
    const entries = r.entries(hf);
    if (entries === undefined) ok = false;
    for (const [name, vf] of entries ?? []) {
      if (!HEADER_NAME_RE.test(name) || name.toLowerCase() === 'content-type' || name.toLowerCase() === 'content-length') {
        r.issue(vf, 'header names are HTTP tokens (letters, digits, -), and not content-type or content-length (gridhost sets them)', name);
        ok = false;
        continue;
      }
      const v = r.str(vf, { required: true });
      if (v === undefined) {
        ok = false;
      } else if (!PRINTABLE_RE.test(v)) {
        r.secretIssue(vf, 'a header value must not contain control characters (newlines, tabs)');
        ok = false;
      } else headers[name] = v;
    }
  }
  return ok ? { url: url as string, method: method as HttpHook['method'], headers } : undefined;
}
