// Table-driven policy checks: a minimal valid policy as an object, patched per case, parsed as
// the YAML it stringifies to; each accepted case reads one value back, each rejected case must
// produce exactly one issue (so it tests that rule and no other).
import test from 'ava';
import { stringify } from 'yaml';
import type { Policy } from '../../src/domain/policy.ts';
import { tryParsePolicy, type PolicyOptions } from '../../src/policy/parse-policy.ts';

export type Obj = Record<string, any>;
export const TEMPLATES = '/srv/gridhost/templates';
/** The file name every patched policy is parsed as (issues name it). */
export const FILE = 'p.yaml';

export function basePolicy(): Obj {
  return {
    pool: 'web',
    guest: { template: 'web.local.yaml', image: 'images/web' },
    rules: [{ name: 'busy', strategy: 'threshold', metric: 'cpu', above: 70, step: '+1' }],
  };
}

/** The base policy with `patch` applied, parsed. */
export function runPatched(patch: (p: Obj) => void, opts: Partial<PolicyOptions> = {}) {
  const p = basePolicy();
  patch(p);
  return tryParsePolicy(stringify(p), FILE, { templatesDir: TEMPLATES, ...opts });
}

export interface Accept { rule: string; patch: (p: Obj) => void; get: (p: Policy) => unknown; want: unknown; opts?: Partial<PolicyOptions> }
export interface Reject { rule: string; patch: (p: Obj) => void; path: string; message: RegExp; opts?: Partial<PolicyOptions> }

/** One test per case: `accepts: <rule>`. */
export function testAccepts(cases: readonly Accept[]): void {
  for (const c of cases) {
    test(`accepts: ${c.rule}`, (t) => {
      const r = runPatched(c.patch, c.opts);
      if (!r.ok) return t.fail(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
      t.deepEqual(c.get(r.policy), c.want);
    });
  }
}

/** One test per case: `rejects: <rule>`; the one issue names the path, the message and the file. */
export function testRejects(cases: readonly Reject[]): void {
  for (const c of cases) {
    test(`rejects: ${c.rule}`, (t) => {
      const r = runPatched(c.patch, c.opts);
      if (r.ok) return t.fail('expected the policy to be rejected');
      t.is(r.issues.length, 1, r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
      t.is(r.issues[0]!.path, c.path);
      t.regex(r.issues[0]!.message, c.message);
      t.is(r.issues[0]!.file, FILE);
    });
  }
}
