// Rules over every role's registry: a gridhost.yaml section belongs to one driver alone.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONFIG_TOP_KEYS, loadConfig } from '../config/load-config.ts';
import { PolicyError } from '../errors/errors.ts';
import { BALANCER_KEYS } from './balancer/balancer-keys.ts';
import { HYPERVISOR_KEYS } from './hypervisor/hypervisor-keys.ts';

const sections = [...HYPERVISOR_KEYS, ...BALANCER_KEYS].flatMap((d) => (d.config ? [d.config] : []));

test('every registered driver has gridhost.yaml keys of its own: no two drivers share one, none is the loader\'s', (t) => {
  t.true(sections.length >= 2);
  const keys = sections.flatMap((s) => s.keys);
  t.deepEqual([...new Set(keys)], keys);
  for (const k of keys) t.false((CONFIG_TOP_KEYS as readonly string[]).includes(k), `${k} is a core key`);
  const names = sections.map((s) => s.name);
  t.deepEqual([...new Set(names)], names, 'each driver\'s settings have a name of their own in GridhostConfig.drivers');
});

test('every driver\'s section key is accepted by the config loader and checked by its driver, at its line', (t) => {
  for (const key of sections.flatMap((s) => s.keys)) {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-driver-keys-'));
    t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));
    fs.writeFileSync(path.join(cwd, 'gridhost.yaml'), `log:\n  level: info\n${key}: 42\n`);
    const e = t.throws(() => loadConfig({ env: {}, cwd }), { instanceOf: PolicyError });
    t.is(e!.issues.length, 1, key);
    t.like(e!.issues[0], { line: 3, path: key });
    t.notRegex(e!.issues[0]!.message, /unknown key/, key);
  }
});
