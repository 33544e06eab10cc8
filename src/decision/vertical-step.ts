// Vertical first (policy guest.vertical): before a scale-out, raise the serving guests' vCPUs and
// memory a step; before a scale-in, lower them a step. Pure: each guest's current and allowed
// sizes come from its record's meta, written by the driver (at clone from the rendered config,
// after each resize by compare-and-set), never from a driver call.
import type { VerticalSettings } from '../domain/policy.ts';
import { GUEST_STATE_FACTS, type Guest, type GuestResize } from '../domain/types.ts';

/** The meta keys a driver that can resize writes (xen: xen-resize.ts). */
export const SIZE_META = {
  vcpus: 'vcpus',
  maxVcpus: 'maxvcpus',
  baseVcpus: 'base_vcpus',
  memoryMb: 'memory_mb',
  maxMemoryMb: 'maxmem_mb',
  baseMemoryMb: 'base_memory_mb',
} as const;

export interface GuestSize {
  vcpus: number;
  maxVcpus: number;
  baseVcpus: number;
  memoryMb: number;
  maxMemoryMb: number;
  baseMemoryMb: number;
}

/** The guest's size as its record says; undefined when any fact is missing or not a number. */
export function guestSizeOf(g: Pick<Guest, 'meta'>): GuestSize | undefined {
  const out: Partial<GuestSize> = {};
  for (const [k, key] of Object.entries(SIZE_META) as [keyof GuestSize, string][]) {
    const v = Number(g.meta[key]);
    if (g.meta[key] === undefined || !Number.isInteger(v) || v < 0) return undefined;
    out[k] = v;
  }
  return out as GuestSize;
}

export interface VerticalStep {
  direction: 'up' | 'down';
  guests: GuestResize[];
}

/**
 * The step `direction` allows now, or undefined when none does (every serving guest at its
 * ceiling going up, at its template's size going down, or its size unknown). Up: each serving
 * guest below its maxvcpus/maxmem gets `vcpuStep` vCPUs and `memoryStepMb` more, capped. Down:
 * each above its template's vcpus/memory gets as much less, floored there. Guests whose size is
 * unknown are left out; a step needs at least one guest to change.
 */
export function verticalStep(v: VerticalSettings, guests: readonly Guest[], direction: 'up' | 'down'): VerticalStep | undefined {
  const out: GuestResize[] = [];
  for (const g of guests) {
    if (!GUEST_STATE_FACTS[g.state].serving) continue;
    const s = guestSizeOf(g);
    if (s === undefined) continue;
    const vcpus = direction === 'up' ? Math.min(s.maxVcpus, s.vcpus + v.vcpuStep) : Math.max(s.baseVcpus, s.vcpus - v.vcpuStep);
    const mem = v.memoryStepMb === 0 ? s.memoryMb : direction === 'up' ? Math.min(s.maxMemoryMb, s.memoryMb + v.memoryStepMb) : Math.max(s.baseMemoryMb, s.memoryMb - v.memoryStepMb);
    // Never the wrong way (a guest found above its ceiling, or below its base, is left as it is).
    const vTo = direction === 'up' ? Math.max(vcpus, s.vcpus) : Math.min(vcpus, s.vcpus);
    const mTo = direction === 'up' ? Math.max(mem, s.memoryMb) : Math.min(mem, s.memoryMb);
    if (vTo === s.vcpus && mTo === s.memoryMb) continue;
    out.push({ id: g.id, vcpus: { from: s.vcpus, to: vTo }, memoryMb: { from: s.memoryMb, to: mTo } });
  }
  return out.length === 0 ? undefined : { direction, guests: out };
}

/** "2 guests 1 -> 2 vCPUs, 512 -> 768 MiB" (the first guest's figures; "and others" when they differ). */
export function describeStep(step: VerticalStep): string {
  const first = step.guests[0]!;
  const same = step.guests.every((g) => g.vcpus.from === first.vcpus.from && g.vcpus.to === first.vcpus.to && g.memoryMb.from === first.memoryMb.from && g.memoryMb.to === first.memoryMb.to);
  const mem = first.memoryMb.from === first.memoryMb.to ? '' : `, ${first.memoryMb.from} -> ${first.memoryMb.to} MiB`;
  const n = step.guests.length;
  return `${n} guest${n === 1 ? '' : 's'} ${first.vcpus.from} -> ${first.vcpus.to} vCPUs${mem}${same ? '' : ' (others differ)'}`;
}
