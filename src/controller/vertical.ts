// Carries out a resize decision (vertical first, policy guest.vertical): each guest's vCPUs and
// memory set by its driver, then its record updated by compare-and-set. Each guest is re-read
// first and stepped only if it still serves at the size the decision was made from (a guest
// retired, replaced or resized meanwhile is left out, not overwritten).
import type { Guest, GuestHistoryEntry, GuestResize, ResizeDecision } from '../domain/types.ts';
import { GUEST_HISTORY_MAX, GUEST_STATE_FACTS } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Store } from '../store/store.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { GridhostError, isGridhostError, wrapError } from '../errors/errors.ts';
import { guestSizeOf } from '../decision/vertical-step.ts';
import { driverFence, fenceData, type ActingFence } from './acting-fence.ts';

export interface ResizeOutcome {
  outcome: 'done' | 'skipped' | 'failed';
  detail: string;
  resized: number;
}

export interface VerticalDeps {
  store: Store;
  hypervisor: (driver: string) => Hypervisor;
  now: () => number;
}

type One = { id: string; result: 'resized' | 'stale' } | { id: string; result: 'failed'; error: GridhostError };

export async function applyResize(d: VerticalDeps, decision: ResizeDecision, policy: Policy, fence?: ActingFence): Promise<ResizeOutcome> {
  const hv = d.hypervisor(policy.guest.driver);
  const resize = hv.resize?.bind(hv);
  if (resize === undefined) {
    return { outcome: 'failed', resized: 0, detail: new GridhostError('GH_RESIZE_FAILED', `hypervisor driver ${hv.name} cannot resize guests`).message };
  }
  const results = await Promise.all(decision.guests.map((step) => resizeOne(d, resize, step, fence)));
  const resized = results.filter((r) => r.result === 'resized').length;
  const stale = results.filter((r) => r.result === 'stale').map((r) => r.id);
  const failed = results.flatMap((r) => (r.result === 'failed' ? [r] : []));
  for (const f of failed) if (f.error.code === 'GH_FENCED' || f.error.code === 'GH_LEASE_LOST') throw f.error;
  const what = `resized ${resized} of ${decision.guests.length} ${decision.direction}`;
  const staleNote = stale.length > 0 ? `; changed meanwhile, left out: ${stale.join(', ')}` : '';
  if (failed.length > 0) return { outcome: 'failed', resized, detail: `${what}${staleNote}: ${failed.map((f) => `${f.id}: ${f.error.message}`).join('; ')}` };
  return { outcome: resized === 0 ? 'skipped' : 'done', resized, detail: `${what}${staleNote}` };
}

async function resizeOne(d: VerticalDeps, resize: NonNullable<Hypervisor['resize']>, step: GuestResize, fence?: ActingFence): Promise<One> {
  const g = await d.store.getGuest(step.id);
  const size = g === undefined ? undefined : guestSizeOf(g);
  if (g === undefined || size === undefined || !GUEST_STATE_FACTS[g.state].serving || size.vcpus !== step.vcpus.from || size.memoryMb !== step.memoryMb.from) return { id: step.id, result: 'stale' };
  fence?.check();
  const started = d.now();
  let meta: Record<string, string>;
  let error: GridhostError | undefined;
  try {
    meta = (await resize(g, { vcpus: step.vcpus.to, memoryMb: step.memoryMb.to }, driverFence(fence))).meta;
  } catch (e) {
    error = isGridhostError(e) ? e : wrapError('GH_RESIZE_FAILED', e, { guest: g.id });
    if (error.code === 'GH_FENCED') return { id: step.id, result: 'failed', error };
    // Part of the step applied (the vCPUs, not the memory): the record says so.
    const applied = error.details['meta'];
    meta = applied !== null && typeof applied === 'object' ? (applied as Record<string, string>) : {};
  }
  const entry: GuestHistoryEntry = {
    at: started,
    action: 'resize',
    outcome: error === undefined ? 'ok' : 'failed',
    durationMs: d.now() - started,
    detail: `${step.vcpus.from} -> ${step.vcpus.to} vCPUs, ${step.memoryMb.from} -> ${step.memoryMb.to} MiB${error ? `: ${error.message}` : ''}`,
    ...(error ? { code: error.code } : {}),
  };
  const next: Guest = { ...g, meta: { ...g.meta, ...meta }, updatedAt: d.now(), history: [...(g.history ?? []), entry].slice(-GUEST_HISTORY_MAX) };
  try {
    await d.store.saveGuest(next, fenceData(fence));
  } catch (e) {
    return { id: step.id, result: 'failed', error: wrapError('GH_RESIZE_FAILED', e, { guest: g.id }) };
  }
  return error === undefined ? { id: step.id, result: 'resized' } : { id: step.id, result: 'failed', error };
}
