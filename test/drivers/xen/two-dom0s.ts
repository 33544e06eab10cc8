// Two dom0s for Xen driver tests: each a real sshd on loopback with its own fake-xl.sh state
// folder (the xl and xentop wrappers pick it by the port the session came in on). Options give
// the XenHypervisor extra settings (storage groups for live migration).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type Policy } from '../../../src/domain/policy.ts';
import { XenHosts } from '../../../src/drivers/xen/xen-hosts.ts';
import { XenHypervisor, type XenHypervisorOptions } from '../../../src/drivers/xen/xen-hypervisor.ts';
import { startSshd, type SshdFixture } from '../ssh/sshd-fixture.ts';

const FAKE_XL = fileURLToPath(new URL('./fake-xl.sh', import.meta.url));
const TEMPLATE = 'name = {{name}}\nuuid = {{uuid}}\ntype = "pv"\nkernel = "/k"\nmemory = 128\nvif = [ \'bridge=xenbr0,mac={{mac}}\' ]\ndisk = [ \'format={{format}},vdev=xvda,access=rw,target={{disk}}\' ]\n';
export const DOM0S = ['dom0-a', 'dom0-b'] as const;

export interface TwoDom0s {
  dir: string;
  hv: XenHypervisor;
  /** Each dom0's fake-xl state folder, by dom0 name. */
  state: Record<string, string>;
  /** Where each dom0 keeps rendered configs (one folder each, as on real dom0s). */
  cfgDir: string;
  policy: (over?: Partial<Policy>) => Policy;
  close(): Promise<void>;
}

export async function twoDom0s(opts: Omit<XenHypervisorOptions, 'hosts'> = {}): Promise<TwoDom0s> {
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-xen-two-'));
  const sshds: SshdFixture[] = [await startSshd(), await startSshd()];
  const state: Record<string, string> = {};
  for (const [i, s] of sshds.entries()) {
    state[DOM0S[i]!] = join(dir, `state-${s.port}`);
    mkdirSync(join(state[DOM0S[i]!]!, 'cpu'), { recursive: true });
  }
  // $SSH_CONNECTION is "client-ip client-port server-ip server-port": the dom0 this session reached.
  const port = '$(echo "$SSH_CONNECTION" | cut -d\' \' -f4)';
  const pick = `XL_STATE='${dir}'/state-${port}`;
  writeFileSync(join(dir, 'xl'), `#!/bin/sh\n${pick} exec '${FAKE_XL}' "$@"\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'xentop'), `#!/bin/sh\n${pick} exec '${FAKE_XL}' xentop "$@"\n`, { mode: 0o755 });
  mkdirSync(join(dir, 'images'));
  writeFileSync(join(dir, 'images', 'base.img'), 'base\n');
  writeFileSync(join(dir, 'web.xl.cfg'), TEMPLATE);
  const hosts = new XenHosts(sshds.map((s, i) => ({ name: DOM0S[i]!, address: '127.0.0.1', port: s.port, user: s.user, privateKeyPath: s.privateKeyPath, hostKeyFingerprint: s.hostKeyFingerprint })), { ssh: { connectAttempts: 1 } });
  // Both "dom0s" are this machine: each its own config folder, picked by port like the state.
  const cfgDir = join(dir, 'cfg');
  const hv = new XenHypervisor({ hosts, xlPath: join(dir, 'xl'), xentopPath: join(dir, 'xentop'), cfgDir, ...opts });
  const policy = (over: Partial<Policy> = {}): Policy => ({
    file: join(dir, 'web.yaml'), pool: 'web', min: 2, max: 8,
    guest: { driver: 'xen', template: join(dir, 'web.xl.cfg'), image: join(dir, 'images', 'base.img'), clone: 'copy', healthPath: '/healthz', metricsPath: '/metrics', metrics: [], bootTimeoutMs: 30_000, stopTimeoutMs: 2_000, drainTimeoutMs: 1_000 },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:0' },
    sampling: { intervalMs: 5000, windowMs: 60_000 }, warmupMs: 0,
    scaleOut: { cooldownMs: 0, whileBooting: 'hold' }, scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' },
    onMissing: 'hold', unknownGuests: 'retire', rules: [], schedules: [], breaker: { failures: 3, openMs: 60_000 }, autoHeal: { ...DEFAULT_AUTO_HEAL },
    ...over,
  });
  return {
    dir, hv, state, cfgDir, policy,
    close: async () => {
      await hv.close();
      for (const s of sshds) await s.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
