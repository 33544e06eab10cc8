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
}

/**
 * Spread a pool over hosts (fewest guests of the pool first, so one dom0 failure cannot take it
 * all down), then the most free memory, then the name for a stable choice. Never over-commits:
 * a host without `needMb` free is not a candidate. Down hosts are skipped.
 */
export function placeGuest(hosts: readonly HostLoad[], needMb: number): string {
  const fits = hosts.filter((h) => h.up && h.freeMemoryMb >= needMb);
  if (fits.length === 0) {
    const seen = hosts.map((h) => (h.up ? `${h.name} ${h.freeMemoryMb} MiB free` : `${h.name} down`)).join(', ') || 'no hosts configured';
    throw new GridhostError('GH_OUT_OF_CAPACITY', `no dom0 has ${needMb} MiB free for the guest (${seen})`, { needMb });
  }
  fits.sort((a, b) => a.guestsOfPool - b.guestsOfPool || b.freeMemoryMb - a.freeMemoryMb || a.name.localeCompare(b.name));
  return (fits[0] as HostLoad).name;
}
