// Retiring a whole pool (an operator's request): every live guest is drained and stopped like a
// scale-in victim, the retirement is a scale event (scale-in n -> 0) in the store and the log,
// and the pool's record ends with desired 0 and when it was retired.
import type { Policy } from '../domain/policy.ts';
import { COUNTED_STATES, LIVE_STATES, type Guest, type ScaleEvent } from '../domain/types.ts';
import type { Store } from '../store/store.ts';
import { GridhostError, wrapError, type ErrorCode } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import { savePoolWith } from './save-pool-with.ts';

export interface RetireOutcome {
  pool: string;
  /** Guests retired (gone), in the store's order. */
  retired: string[];
  /** Guests whose retire failed: they stay `stopping` (a later retire or restart finishes them). */
  failed: { guest: string; code: ErrorCode; message: string }[];
}

export interface RetireDeps {
  store: Store;
  lifecycle: GuestLifecycle;
  clock: Clock;
  telemetry: Telemetry;
}

/** Pure: serving guests are drained first (retire); the others only need finishing. */
export function retireStep(g: Guest): 'drain-and-stop' | 'finish' {
  return g.state === 'healthy' || g.state === 'draining' ? 'drain-and-stop' : 'finish';
}

/** Tries of one guest's retire when another writer changed its record meanwhile. */
export const RETIRE_TRIES = 3;

/**
 * One guest's retire from the record read before it. Another writer may change the record in
 * between (a loop finishing its last step, the reconciler): the compare-and-set then refuses the
 * step (GH_STALE_WRITE) and it is tried again from a fresh read, as the operator asked for the
 * guest to go whatever its state; a guest that is gone by then needs nothing more.
 */
async function retireGuest(d: RetireDeps, guest: Guest, policy: Policy | undefined, reason: string): Promise<void> {
  let g = guest;
  for (let attempt = 1; ; attempt++) {
    try {
      await (retireStep(g) === 'drain-and-stop' ? d.lifecycle.retire(g, policy, reason) : d.lifecycle.finish(g, policy, reason, 'gone'));
      return;
    } catch (e) {
      if (!(e instanceof GridhostError && e.code === 'GH_STALE_WRITE') || attempt >= RETIRE_TRIES) throw e;
      const fresh = await d.store.getGuest(g.id);
      if (!fresh || !LIVE_STATES.includes(fresh.state)) return;
      g = fresh;
    }
  }
}

/**
 * Retire every live guest of `pool` in parallel. `policy` gives the drain and stop limits (the
 * last policy the pool had, when known). Never rejects for a guest's failure: it is reported in
 * the outcome; rejects only when the store fails before anything was retired.
 */
export async function retirePool(d: RetireDeps, pool: string, policy: Policy | undefined, reason: string): Promise<RetireOutcome> {
  const guests = await d.store.listGuests({ pool, states: LIVE_STATES });
  const out: RetireOutcome = { pool, retired: [], failed: [] };
  const started = d.clock.now();
  let event: ScaleEvent | undefined;
  if (guests.length > 0) {
    const from = guests.filter((g) => COUNTED_STATES.includes(g.state)).length;
    const decision = { pool, at: started, direction: 'scale-in' as const, from, to: 0, reason: `scale-in ${from} -> 0: ${reason}`, inputs: { series: {}, min: 0, max: 0, schedules: [] } };
    event = await d.store.appendEvent({ ...decision, outcome: 'started' });
    d.telemetry.scaleEvent({ ...decision, outcome: 'started' });
  }
  const results = await Promise.allSettled(guests.map((g) => retireGuest(d, g, policy, reason)));
  results.forEach((r, i) => {
    const g = guests[i]!;
    if (r.status === 'fulfilled') return void out.retired.push(g.id);
    const err = wrapError('GH_STOP_FAILED', r.reason, { guest: g.id });
    out.failed.push({ guest: g.id, code: err.code, message: err.message });
    d.telemetry.error('could not retire guest; it stays stopping until the pool is retired again or gridhost restarts', { pool, guest: g.id, code: err.code, error: err.message });
  });

  const now = d.clock.now();
  await savePoolWith(d.store, pool, (rec) => {
    // Retired once every guest is gone; asking again with nothing left keeps the first time.
    const retiredAt = out.failed.length > 0 ? undefined : guests.length === 0 && rec?.retiredAt !== undefined ? rec.retiredAt : now;
    const base = rec ?? { pool, file: policy?.file ?? '', managed: false, desired: 0, updatedAt: now };
    return { ...base, managed: false, desired: 0, updatedAt: now, retiredAt };
  });
  if (event) {
    const outcome = out.failed.length === 0 ? 'done' : 'failed';
    const detail = out.failed.length === 0
      ? `retired ${out.retired.join(', ')}`
      : `retired ${out.retired.length} of ${guests.length}: ${out.failed.map((f) => `${f.guest}: ${f.message}`).join('; ')}`;
    await d.store.updateEvent(event.id!, outcome, detail);
    d.telemetry.scaleEvent({ pool, direction: 'scale-in', from: event.from, to: 0, reason: event.reason, outcome, detail, durationMs: now - started });
  }
  return out;
}
