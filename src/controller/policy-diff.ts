// What changed between two versions of a pool's policy, said in the policy file's own words
// (`scale_in.cooldown: 1m -> 2m`, `rules[rps].target: 45 -> 50`), for the reload log line.
// Pure.
import type { Policy } from '../domain/policy.ts';
import { formatDuration } from '../policy/duration.ts';

export interface PolicyChange {
  /** The key as written in the policy file: `guest.boot_timeout`, `rules[cpu].above`. */
  key: string;
  from: string;
  to: string;
}

/** Canonical names whose file key is not simply snake_case without `Ms`. */
const FILE_KEY: Record<string, string> = { openMs: 'open_for' };
/** Not part of the file's content. */
const SKIP = new Set(['file']);
const ABSENT = '(none)';

function fileKey(k: string): string {
  return FILE_KEY[k] ?? k.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function show(key: string, v: unknown): string {
  if (v === undefined) return ABSENT;
  if (typeof v === 'number' && key.endsWith('Ms') && Number.isSafeInteger(v) && v >= 0) return formatDuration(v);
  if (isStep(v)) return v.kind === 'percent' ? `${v.value > 0 ? '+' : ''}${v.value}%` : `${v.value > 0 ? '+' : ''}${v.value}`;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function isStep(v: unknown): v is { kind: 'count' | 'percent'; value: number } {
  return typeof v === 'object' && v !== null && 'kind' in v && 'value' in v && Object.keys(v).length === 2;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const named = (xs: unknown[]): xs is { name: string }[] => xs.every((x) => isRecord(x) && typeof x.name === 'string');

function walk(path: string, canonical: string, a: unknown, b: unknown, out: PolicyChange[]): void {
  if (isStep(a) || isStep(b)) {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ key: path, from: show(canonical, a), to: show(canonical, b) });
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && named(a) && named(b)) {
    // Rules and schedules are matched by name: a reordering is not a change of every entry.
    for (const x of a) walk(`${path}[${x.name}]`, canonical, x, b.find((y) => y.name === x.name), out);
    for (const y of b) if (!a.some((x) => x.name === y.name)) walk(`${path}[${y.name}]`, canonical, undefined, y, out);
    return;
  }
  if (isRecord(a) && isRecord(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (SKIP.has(k) && path === '') continue;
      if (k === 'name' && path.endsWith(']')) continue;
      walk(path === '' ? fileKey(k) : `${path}.${fileKey(k)}`, k, a[k], b[k], out);
    }
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ key: path, from: show(canonical, a), to: show(canonical, b) });
}

/** Every leaf that differs, in the policy's own order; an added or removed rule is one change. */
export function diffPolicies(before: Policy, after: Policy): PolicyChange[] {
  const out: PolicyChange[] = [];
  walk('', '', before, after, out);
  return out;
}

/** `scale_in.cooldown 1m -> 2m` */
export function formatChange(c: PolicyChange): string {
  return `${c.key} ${c.from} -> ${c.to}`;
}
