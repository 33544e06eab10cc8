// Wiring for the xen driver: one XenHosts (one kept SSH connection per dom0) shared by the
// hypervisor driver and the xentop metrics source, so sampling never costs another handshake,
// and one XentopRuns, so a tick's guest CPU and host CPU use (contention) are one xentop per dom0.
import type { Dom0Config } from './xen-settings.ts';
import { GridhostError } from '../../errors/errors.ts';
import { XenHosts, type XenHostsOptions } from './xen-hosts.ts';
import { XenHypervisor, type XenHypervisorOptions } from './xen-hypervisor.ts';
import { XentopRuns } from './xentop-runs.ts';
import { XentopSource, type XentopSourceOptions } from './xentop-source.ts';

export interface XenDrivers {
  hosts: XenHosts;
  hypervisor: XenHypervisor;
  xentop: XentopSource;
  /** Closes the SSH connections (guests keep running). */
  close(): Promise<void>;
}

export function createXenDrivers(
  dom0s: readonly Dom0Config[],
  opts: XenHostsOptions & { hypervisor?: Omit<XenHypervisorOptions, 'hosts' | 'xentopRuns'>; xentop?: Omit<XentopSourceOptions, 'hosts' | 'namePrefix' | 'runs'> } = {},
): XenDrivers {
  if (dom0s.length === 0) throw new GridhostError('GH_CONFIG_INVALID', 'the xen driver needs at least one dom0 in gridhost.yaml (dom0s:)');
  const hosts = new XenHosts(dom0s, opts.ssh ? { ssh: opts.ssh } : {});
  // The same xentop runs for each dom0's CPU use (policy contention) as for the guests'.
  const xentopPath = opts.xentop?.xentopPath ?? opts.hypervisor?.xentopPath ?? '/usr/lib/xen-4.17/bin/xentop';
  const runs = new XentopRuns({ hosts, xentopPath, timeoutMs: opts.xentop?.timeoutMs ?? 15_000 });
  const hypervisor = new XenHypervisor({ ...opts.hypervisor, xentopPath, xentopRuns: runs, hosts });
  const xentopOpts: XentopSourceOptions = { ...opts.xentop, xentopPath, hosts, runs };
  if (opts.hypervisor?.namePrefix !== undefined) xentopOpts.namePrefix = opts.hypervisor.namePrefix;
  const xentop = new XentopSource(xentopOpts);
  return { hosts, hypervisor, xentop, close: () => hosts.close() };
}
