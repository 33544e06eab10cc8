// XenHypervisor's options and their defaults, resolved once and shared by the modules it composes
// (launch, teardown, discovery, placement): one place says what each default is.
import type { GuestNetwork } from './guest-network.ts';
import { DEFAULT_GUEST_NETWORK } from './guest-network.ts';
import type { XenHosts } from './xen-hosts.ts';
import type { XentopRuns } from './xentop-runs.ts';

export interface XenHypervisorOptions {
  hosts: XenHosts;
  /** Debian's /usr/sbin/xl is a wrapper script: call the real binary. */
  xlPath?: string;
  /** Where rendered configs are kept on each dom0. */
  cfgDir?: string;
  /** Domain name = prefix + guest id; marks the domains gridhost owns. */
  namePrefix?: string;
  /** Each dom0's guest network (bridge, addresses handed out, prefix, gateway, service port). */
  networkByHost?: Record<string, GuestNetwork>;
  /** The network of a dom0 not in networkByHost (default: the Xen lab's). */
  network?: GuestNetwork;
  /** Value of {{memory}} when the template uses it. */
  memoryMb?: number;
  lvmSnapshotSize?: string;
  commandTimeoutMs?: number;
  cloneTimeoutMs?: number;
  createTimeoutMs?: number;
  /** `xl destroy` (2-3 s on the lab when idle; much longer under load). */
  destroyTimeoutMs?: number;
  /** After shutdown/destroy, how long to wait for the domain to leave `xl list`: device teardown
   *  took 54 s on the loaded lab (scripts/xen-lab/README.md); default 120 s. */
  goneTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** xentop, for each dom0's CPU use (policy contention). */
  xentopPath?: string;
  /** The xentop runs shared with XentopSource, so a tick runs xentop once per dom0 (create-xen-drivers.ts). */
  xentopRuns?: XentopRuns;
  /** Storage group of each dom0 that has one: live migration only within a group (live-migration.ts). */
  storageByHost?: Record<string, string>;
  /** The address peers' xl migrate reaches each dom0 at (default: its name as configured address). */
  migrateToByHost?: Record<string, string>;
  /** How long one `xl migrate` may take (default 10 min). */
  migrateTimeoutMs?: number;
}

/** The options every module reads, defaults filled in (migration's own are LiveMigration's). */
export type XenDriverSettings = Required<Omit<XenHypervisorOptions, 'hosts' | 'networkByHost' | 'storageByHost' | 'migrateToByHost' | 'migrateTimeoutMs' | 'xentopRuns'>> & { networkByHost: Record<string, GuestNetwork> };

export function xenDriverSettings(opts: XenHypervisorOptions): XenDriverSettings {
  return {
    xlPath: opts.xlPath ?? '/usr/lib/xen-4.17/bin/xl',
    cfgDir: opts.cfgDir ?? '/etc/xen/gridhost',
    namePrefix: opts.namePrefix ?? 'gh-',
    network: opts.network ?? DEFAULT_GUEST_NETWORK,
    networkByHost: opts.networkByHost ?? {},
    memoryMb: opts.memoryMb ?? 128,
    lvmSnapshotSize: opts.lvmSnapshotSize ?? '256M',
    commandTimeoutMs: opts.commandTimeoutMs ?? 30_000,
    cloneTimeoutMs: opts.cloneTimeoutMs ?? 300_000,
    createTimeoutMs: opts.createTimeoutMs ?? 120_000,
    destroyTimeoutMs: opts.destroyTimeoutMs ?? 120_000,
    goneTimeoutMs: opts.goneTimeoutMs ?? 120_000,
    sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    xentopPath: opts.xentopPath ?? '/usr/lib/xen-4.17/bin/xentop',
  };
}
