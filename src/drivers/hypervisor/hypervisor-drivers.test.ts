// The composition root builds hypervisors only through HYPERVISOR_DRIVERS: it lists the same
// drivers as the keys registry, and one the config leaves out is absent and says what to add.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config/load-config.ts';
import { HYPERVISOR_DRIVERS } from './hypervisor-drivers.ts';
import { HYPERVISOR_KEYS } from './hypervisor-keys.ts';

test('the drivers list is the keys list, driver for driver, in the same order', (t) => {
  t.is(HYPERVISOR_DRIVERS.length, HYPERVISOR_KEYS.length);
  HYPERVISOR_DRIVERS.forEach((d, i) => t.true(d.keys === HYPERVISOR_KEYS[i], d.keys.name));
});

test('with no driver sections only the default driver is created; the others say what to add', async (t) => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-hypervisor-drivers-'));
  t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));
  const config = loadConfig({ env: {}, cwd });
  for (const d of HYPERVISOR_DRIVERS) {
    const s = d.create(config, {});
    if (d === HYPERVISOR_DRIVERS[0]) {
      t.is(s?.hypervisor.name, d.keys.name);
      t.true((s?.sources.length ?? 0) > 0, 'it measures its guests');
      t.deepEqual(s?.routes, [], 'its guests are reached directly');
    } else {
      t.is(s, undefined, d.keys.name);
      t.truthy(d.unconfigured, `${d.keys.name} says what to configure`);
    }
    await s?.hypervisor.close();
    for (const m of s?.sources ?? []) await m.close();
    await s?.close();
  }
});
