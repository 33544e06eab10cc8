// One dom0 for Xen driver tests: a real sshd on loopback with test/drivers/xen/fake-xl.sh for xl,
// its state folder, a policy builder and readers of what reached dom0 (argv, sched, domains).
// `extra` is the template's lines between `memory` and `vif` (cpus =, vcpus/maxvcpus/maxmem).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type CreditSettings, type Policy } from '../../../src/domain/policy.ts';
import type { Guest } from '../../../src/domain/types.ts';
import { XenHosts } from '../../../src/drivers/xen/xen-hosts.ts';
import { XenHypervisor } from '../../../src/drivers/xen/xen-hypervisor.ts';
import { startSshd } from '../ssh/sshd-fixture.ts';

const FAKE_XL = fileURLToPath(new URL('./fake-xl.sh', import.meta.url));

/** The test template with `extra` lines after `memory = 128`. */
export const xenTemplate = (extra: string): string =>
  `name = {{name}}\nuuid = {{uuid}}\ntype = "pv"\nkernel = "/k"\nmemory = 128\n${extra}vif = [ 'bridge=xenbr0,mac={{mac}}' ]\ndisk = [ 'format={{format}},vdev=xvda,access=rw,target={{disk}}' ]\n`;

export const guestOf = (id: string, meta: Record<string, string>): Guest => ({ id, pool: 'web', state: 'healthy', driver: 'xen', host: 'dom0-a', createdAt: 0, updatedAt: 0, meta });

/** Call `cleanup` from test.after.always. */
export function oneDom0Fixture() {
  const cleanups: (() => Promise<void>)[] = [];
  async function setup(tpl: string) {
    const sshd = await startSshd();
    const dir = mkdtempSync(join(tmpdir(), 'gridhost-xen-one-'));
    const state = join(dir, 'state');
    mkdirSync(state);
    mkdirSync(join(dir, 'images'));
    writeFileSync(join(dir, 'images', 'base.img'), 'base\n');
    writeFileSync(join(dir, 'web.xl.cfg'), tpl);
    writeFileSync(join(dir, 'xl'), `#!/bin/sh\nXL_STATE='${state}' exec '${FAKE_XL}' "$@"\n`, { mode: 0o755 });
    const newHv = () => new XenHypervisor({ hosts: new XenHosts([{ name: 'dom0-a', address: '127.0.0.1', port: sshd.port, user: sshd.user, privateKeyPath: sshd.privateKeyPath, hostKeyFingerprint: sshd.hostKeyFingerprint }], { ssh: { connectAttempts: 1 } }), xlPath: join(dir, 'xl'), cfgDir: join(dir, 'cfg'), goneTimeoutMs: 5000, sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))) });
    const hvs = [newHv()];
    cleanups.push(async () => {
      for (const hv of hvs) await hv.close();
      await sshd.dispose();
      rmSync(dir, { recursive: true, force: true });
    });
    const policy = (credit?: CreditSettings): Policy => ({
      file: join(dir, 'web.yaml'), pool: 'web', min: 2, max: 8,
      guest: { driver: 'xen', template: join(dir, 'web.xl.cfg'), image: join(dir, 'images', 'base.img'), clone: 'copy', healthPath: '/healthz', metricsPath: '/metrics', metrics: [], bootTimeoutMs: 30_000, stopTimeoutMs: 2_000, drainTimeoutMs: 1_000, ...(credit ? { credit } : {}) },
      balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' },
      sampling: { intervalMs: 5000, windowMs: 60_000 }, warmupMs: 0,
      scaleOut: { cooldownMs: 0, whileBooting: 'hold' }, scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
      onMissing: 'hold', unknownGuests: 'retire', rules: [], schedules: [], breaker: { failures: 3, openMs: 60_000 }, autoHeal: { ...DEFAULT_AUTO_HEAL },
    });
    const argv = () => (existsSync(join(state, 'argv')) ? readFileSync(join(state, 'argv'), 'utf8').trim().split('\n') : []);
    const sched = (dom: string) => readFileSync(join(state, 'sched', dom), 'utf8').trim();
    const domains = () => (existsSync(join(state, 'domains')) ? readdirSync(join(state, 'domains')) : []);
    return { dir, state, hv: hvs[0]!, restarted: () => { const h = newHv(); hvs.push(h); return h; }, policy, argv, sched, domains };
  }
  return { setup, cleanup: async () => { for (const c of cleanups) await c(); } };
}
