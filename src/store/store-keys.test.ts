// The store registry's rules: the config loader knows store kinds, their keys and variables
// only from STORE_KEYS, and opens stores only through STORE_DRIVERS.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load-config.ts';
import { PolicyError } from '../errors/errors.ts';
import { STORE_DRIVERS } from './store-drivers.ts';
import { STORE_KEYS } from './store-keys.ts';

/** A value each kind's key takes; the secret one carries a password that must never be repeated. */
const VALUES: Record<string, string> = { path: 'state/g.db', uri: 'mongodb://gh:S3CRET@db.example/gh' };

function load(t: { teardown: (f: () => void) => void }, yaml: string, env: Record<string, string> = {}) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-store-keys-'));
  t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));
  fs.writeFileSync(path.join(cwd, 'gridhost.yaml'), yaml);
  return () => loadConfig({ env, cwd });
}

test('an unknown store kind is refused at its line, naming every registered kind', (t) => {
  const e = t.throws(load(t, 'store:\n  kind: redis\n'), { instanceOf: PolicyError });
  t.is(e!.issues.length, 1);
  t.like(e!.issues[0], { path: 'store.kind', line: 2, message: `must be one of ${STORE_KEYS.map((k) => k.name).join(' | ')}` });
});

test('store.kind left out is the first registered kind', (t) => {
  t.is(load(t, 'log:\n  level: info\n')().store.kind, STORE_KEYS[0]!.name);
});

test('a key of another store kind is refused at its line, saying whose it is and what this kind takes; a secret is not repeated', (t) => {
  let cases = 0;
  for (const kind of STORE_KEYS) {
    for (const other of STORE_KEYS.filter((o) => o !== kind)) {
      for (const key of other.keys.filter((k) => !kind.keys.includes(k))) {
        cases++;
        const own = kind.keys.map((k) => `  ${k}: ${VALUES[k]}`).join('\n');
        const e = t.throws(load(t, `store:\n  kind: ${kind.name}\n${own}\n  ${key}: ${VALUES[key]}\n`), { instanceOf: PolicyError });
        t.is(e!.issues.length, 1, e!.message);
        t.like(e!.issues[0], { path: `store.${key}`, line: 3 + kind.keys.length, message: `${key} is for kind: ${other.name}; ${kind.name} takes ${kind.keys.join(', ')}` });
        t.false(e!.message.includes('S3CRET'));
      }
    }
  }
  t.true(cases > 0);
});

test('each kind\'s environment variable chooses that kind; two set at once are refused, naming both', (t) => {
  const withEnv = STORE_KEYS.filter((k) => k.env !== undefined);
  t.true(withEnv.length >= 2);
  for (const k of withEnv) {
    const c = load(t, 'log:\n  level: info\n', { [k.env!.name]: VALUES[k.env!.key]! })();
    t.is(c.store.kind, k.name);
  }
  const env = Object.fromEntries(withEnv.map((k) => [k.env!.name, VALUES[k.env!.key]!]));
  const e = t.throws(load(t, 'log:\n  level: info\n', env), { instanceOf: PolicyError });
  t.like(e!.issues[0], { path: 'store', message: `set only one of ${withEnv.map((k) => k.env!.name).join(' and ')}` });
});

test('the store drivers list is the keys list, kind for kind, in the same order', (t) => {
  t.is(STORE_DRIVERS.length, STORE_KEYS.length);
  STORE_DRIVERS.forEach((d, i) => t.true(d.keys === STORE_KEYS[i], d.keys.name));
  const keys = STORE_KEYS.flatMap((k) => k.keys);
  t.deepEqual([...new Set(keys)], keys, 'no key belongs to two kinds');
});
