// Contention-aware scale-out (policy contention): a host whose domains together use its CPUs up
// (dom0's xentop summed over every domain, against xl info's nr_cpus) gives a new guest no CPU.
// Pure: the host facts are data the tick's sample carries (PoolSample.hosts), never a driver call.
import type { Policy } from '../domain/policy.ts';
import type { HostSample } from '../domain/types.ts';

export interface HostContention {
  /** Hosts measured this tick, with their CPU use. */
  hosts: { host: string; cpuRatio: number }[];
  threshold: number;
  /** Every host measured is saturated (and at least one was measured). */
  allSaturated: boolean;
}

export function isSaturated(h: Pick<HostSample, 'cpuRatio'>, threshold: number): boolean {
  return h.cpuRatio !== undefined && h.cpuRatio >= threshold;
}

/** What the hosts say at this tick; undefined without policy contention or without host facts.
 *  A host whose CPU could not be measured counts as not saturated (nothing says it is). */
export function hostContention(policy: Pick<Policy, 'contention'>, hosts: readonly HostSample[] | undefined): HostContention | undefined {
  const c = policy.contention;
  if (c === undefined || hosts === undefined || hosts.length === 0) return undefined;
  let all = true;
  const measured: { host: string; cpuRatio: number }[] = [];
  for (const h of hosts) {
    if (h.cpuRatio !== undefined) measured.push({ host: h.host, cpuRatio: h.cpuRatio });
    if (!isSaturated(h, c.saturatedAt)) all = false;
  }
  return { hosts: measured, threshold: c.saturatedAt, allSaturated: all };
}
