// The JSON Schema of policy files (schema/policy.schema.json) is the one built from the validator
// (src/policy/policy-schema.ts), accepts every example policy, and rejects every unknown key and
// every wrong type that the validator rejects, checked with a real JSON Schema validator (ajv).
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { Ajv } from 'ajv';
import { parse, stringify } from 'yaml';
import { tryParsePolicy } from '../../src/policy/parse-policy.ts';
import { PROBES } from '../../src/policy/policy-schema.ts';
import { SCHEMA_FILE, schemaText } from '../../scripts/policy-schema.ts';
import { REPO } from '../e2e/harness.ts';

const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
const ajv = new Ajv({ strict: true, allErrors: true });
const check = ajv.compile(schema);
const examples = readdirSync(join(REPO, 'policies')).filter((f) => /\.ya?ml$/.test(f)).map((f) => ({ name: `policies/${f}`, text: readFileSync(join(REPO, 'policies', f), 'utf8') }));
const validate = (text: string) => tryParsePolicy(text, 'mutated.yaml', { templatesDir: '/templates' });

test('schema/policy.schema.json is exactly what the validator builds (npm run schema writes it)', (t) => {
  t.is(readFileSync(SCHEMA_FILE, 'utf8'), schemaText());
});

test('every example policy points editors at the schema, and the schema accepts it', (t) => {
  t.true(examples.length >= 1);
  for (const ex of examples) {
    const m = /^# yaml-language-server: \$schema=(\S+)$/m.exec(ex.text);
    t.truthy(m, `${ex.name} names the schema`);
    t.is(resolve(dirname(join(REPO, ex.name)), m![1]!), SCHEMA_FILE);
    t.true(validate(ex.text).ok, ex.name);
    t.true(check(parse(ex.text)), `${ex.name}: ${ajv.errorsText(check.errors)}`);
  }
  for (const p of PROBES) t.true(check(parse(p)), ajv.errorsText(check.errors));
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every node of a parsed document with its dotted path (as the validator names fields). */
function nodes(v: Json, path = ''): { path: string; value: Json }[] {
  const here = path === '' ? [] : [{ path, value: v }];
  if (Array.isArray(v)) return [...here, ...v.flatMap((x, i) => nodes(x, path === '' ? String(i) : `${path}.${i}`))];
  if (v !== null && typeof v === 'object') return [...here, ...Object.entries(v).flatMap(([k, x]) => nodes(x, path === '' ? k : `${path}.${k}`))];
  return here;
}

function setAt(doc: Json, path: string, value: Json | ((old: Json) => Json)): Json {
  const copy = structuredClone(doc);
  const segs = path.split('.');
  let cur = copy as Record<string, Json>;
  for (const s of segs.slice(0, -1)) cur = cur[s] as Record<string, Json>;
  const last = segs.at(-1)!;
  cur[last] = typeof value === 'function' ? value(cur[last]!) : value;
  return copy;
}

/**
 * A value of another type than `v`. A string becomes a boolean, not a number: YAML reads `+1`
 * and `1` as the same number, so only the validator (reading the source text) can insist on a
 * step's sign.
 */
function wrongType(v: Json): Json {
  if (typeof v === 'string') return true;
  if (typeof v === 'number') return 'twelve';
  if (typeof v === 'boolean') return 'yes';
  if (Array.isArray(v)) return 'a list was expected';
  return 'a mapping was expected';
}

test('every unknown key and every wrong type the validator rejects, the schema rejects', (t) => {
  let checked = 0;
  for (const ex of [...examples.map((e) => e.text), ...PROBES]) {
    const doc = parse(ex) as Json;
    const mutations: { what: string; path: string; doc: Json }[] = [];
    // An unknown key in every mapping (the root included).
    mutations.push({ what: 'unknown key at the top', path: 'not_a_key', doc: { ...(doc as Record<string, Json>), not_a_key: 1 } });
    for (const n of nodes(doc)) {
      if (n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value)) {
        mutations.push({ what: `unknown key in ${n.path}`, path: `${n.path}.not_a_key`, doc: setAt(doc, n.path, (o) => ({ ...(o as Record<string, Json>), not_a_key: 1 })) });
      }
      mutations.push({ what: `wrong type at ${n.path} (${JSON.stringify(wrongType(n.value))})`, path: n.path, doc: setAt(doc, n.path, wrongType(n.value)) });
    }
    for (const m of mutations) {
      const v = validate(stringify(m.doc));
      // Only what the validator rejects at that very field is the schema's to reject.
      if (v.ok || !v.issues.some((i) => i.path === m.path || i.path.startsWith(`${m.path}.`))) {
        t.fail(`the validator accepts ${m.what}: ${v.ok ? 'ok' : v.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
        continue;
      }
      t.false(check(m.doc), `the schema accepts ${m.what}, which the validator rejects: ${v.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
      checked++;
    }
  }
  t.true(checked > 100, `${checked} mutations`);
});
