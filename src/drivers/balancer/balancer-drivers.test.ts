// The composition root builds balancers only through BALANCER_DRIVERS: it lists the same
// drivers as the keys registry, and a driver the config leaves out is absent with a clear word.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config/load-config.ts';
import { createLogger } from '../../observability/logger.ts';
import { BALANCER_DRIVERS } from './balancer-drivers.ts';
import { BALANCER_KEYS } from './balancer-keys.ts';
import { BalancerSet } from './balancer-set.ts';
import type { Balancer } from './balancer.ts';

test('the drivers list is the keys list, driver for driver, in the same order', (t) => {
  t.is(BALANCER_DRIVERS.length, BALANCER_KEYS.length);
  BALANCER_DRIVERS.forEach((d, i) => t.true(d.keys === BALANCER_KEYS[i], d.keys.name));
});

test('a driver gridhost.yaml does not configure is not created, and a pool naming it is told what to add', async (t) => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-balancer-drivers-'));
  t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));
  const config = loadConfig({ env: {}, cwd });
  const logger = createLogger({ level: 'error', format: 'json' });
  const created = new Map<string, Balancer>();
  for (const d of BALANCER_DRIVERS) {
    const b = d.create(config, { logger, routes: undefined });
    if (b) created.set(d.keys.name, b);
  }
  const set = new BalancerSet(created, (name) => BALANCER_DRIVERS.find((d) => d.keys.name === name)?.unconfigured ?? 'unknown');
  t.teardown(() => set.close());
  const absent = BALANCER_DRIVERS.filter((d) => !created.has(d.keys.name));
  t.true(created.has(BALANCER_KEYS[0]!.name), 'the default driver needs no section');
  t.true(absent.length > 0);
  for (const d of absent) {
    t.truthy(d.unconfigured, `${d.keys.name} says what to configure`);
    await t.throwsAsync(set.ensurePool('web', '', '/healthz', { driver: d.keys.name }), { code: 'GH_BALANCER_FAILED', message: `pool web: ${d.unconfigured}` });
  }
});
