// Choosing the dom0 for a new guest. Pure: the driver gathers the facts (xl info, its own guests).
import { GridhostError } from '../../errors/errors.ts';

export interface HostLoad {
  name: string;
  up: boolean;
  /** Free memory the new guest may use, MiB (xl info free_memory minus in-flight reservations). */
  freeMemoryMb: number;
  /** Guests of the same pool already on this host (counted states). */
  guestsOfPool: number;
  /** Why it is not up, when it is not. */
  error?: string;
  /** CPU use of all its domains, 0-1 of its CPUs (policy contention); absent: not measured. */
  cpuRatio?: number;
}

/**
 * Spread a pool over hosts (fewest guests of the pool first, so one dom0 failure cannot take it
 * all down), then the most free memory, then the name for a stable choice. Never over-commits:
 * a host without `needMb` free is not a candidate. Down hosts are skipped. With `saturatedAt`
 * (policy contention) a host whose domains use that much of its CPUs comes after every host
 * that is not: a guest there would get no CPU. It is still taken when it is the only one with
 * room (the decision core holds a scale-out the rules want when every host is saturated; what
 * reaches placement then is a launch that must happen, such as one back to min).
 */
export function placeGuest(hosts: readonly HostLoad[], needMb: number, saturatedAt?: number): string {
  const fits = hosts.filter((h) => h.up && h.freeMemoryMb >= needMb);
  if (fits.length === 0) {
    const seen = hosts.map((h) => (h.up ? `${h.name} ${h.freeMemoryMb} MiB free` : `${h.name} down`)).join(', ') || 'no hosts configured';
    throw new GridhostError('GH_OUT_OF_CAPACITY', `no dom0 has ${needMb} MiB free for the guest (${seen})`, { needMb });
  }
  const saturated = (h: HostLoad): number => (saturatedAt !== undefined && h.cpuRatio !== undefined && h.cpuRatio >= saturatedAt ? 1 : 0);
  fits.sort((a, b) => saturated(a) - saturated(b) || a.guestsOfPool - b.guestsOfPool || b.freeMemoryMb - a.freeMemoryMb || a.name.localeCompare(b.name));
  return (fits[0] as HostLoad).name;
}

/** placeGuest() over the hosts not closed for placement (drain-host); the error names the closed ones. */
export function placeOnOpenHost(hosts: readonly HostLoad[], needMb: number, closed: ReadonlySet<string>, saturatedAt?: number): string {
  if (closed.size === 0) return placeGuest(hosts, needMb, saturatedAt);
  const open = hosts.filter((h) => !closed.has(h.name));
  const shut = hosts.filter((h) => closed.has(h.name)).map((h) => h.name).join(', ');
  if (open.length === 0) throw new GridhostError('GH_OUT_OF_CAPACITY', `every dom0 is closed for placement (drain-host: ${shut}); undrain one or add a dom0`, { needMb });
  try {
    return placeGuest(open, needMb, saturatedAt);
  } catch (e) {
    if (e instanceof GridhostError) throw new GridhostError(e.code, `${e.message}; closed for placement: ${shut}`, e.details);
    throw e;
  }
}
