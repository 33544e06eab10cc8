// Rollout planning: which guests were made from another template or base image than the pool's
// current ones, and what the next batch of their replacement does. Pure (no clock, no I/O), so
// the rules are tested without guests:
//  - a guest is outdated when the digests it recorded at launch (meta.templateDigest,
//    meta.imageDigest) differ from the current ones of its host (for Xen the base image lives
//    on each dom0); a guest that recorded none (made before gridhost recorded digests) is
//    outdated too; a host whose current digests are unknown (it did not answer) has no
//    outdated guests this time: unknown is not outdated;
//  - one batch at a time, and only while nothing else changes the pool (no guest on its way up
//    or down, no sick guest waiting for auto-heal);
//  - a batch launches up to max_surge new guests beside the old ones, never past the pool's max
//    in force (the surge guests may exceed the current size, never max), and retires one old
//    guest per new one that serves; max_unavailable old ones may go before their replacements
//    serve (0 by default: the size never drops below the current one);
//  - rollout.pause between batches.
import type { RolloutSettings } from '../domain/policy.ts';
import { GUEST_STATE_FACTS, type Guest } from '../domain/types.ts';

/** What a guest is made from, as its driver digests it (see the drivers' sourceDigest()). */
export interface SourceDigest {
  template: string;
  image: string;
}

/** Where a guest records the digests of what it was made from. */
export const TEMPLATE_DIGEST_META = 'templateDigest';
export const IMAGE_DIGEST_META = 'imageDigest';

/** A rollout as the pool's record keeps it (plain data): the state its next batch depends on. */
export interface RolloutRecord {
  state: 'running' | 'done' | 'failed';
  /** Who started it: an operator's name, or `policy` for rollout: auto. */
  by: string;
  reason: string;
  startedAt: number;
  /** The current digests when the rollout last planned (digestKey()); rollout: auto does not
   *  start again for the digests a rollout failed on. */
  target: string;
  batches: number;
  /** Old guests retired and new guests launched by this rollout, oldest first. */
  replaced: string[];
  launched: string[];
  /** No batch starts before this (rollout.pause after the last one). */
  nextBatchAt?: number;
  finishedAt?: number;
  /** Why it stopped (state failed). */
  failure?: { at: number; code: string; message: string; guests: string[] };
  /** A batch under way: written before it starts, so a gridhost that takes over knows one was
   *  cut short (the reconciler undoes its half-made guests and finishes its retirements). */
  batch?: { at: number; retiring: string[] };
}

/** One stable string for the current digests of every host (what a rollout rolls to). */
export function digestKey(current: ReadonlyMap<string, SourceDigest | undefined>): string {
  return [...current.entries()]
    .filter((e): e is [string, SourceDigest] => e[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([h, d]) => `${h}=${d.template}/${d.image}`)
    .join(';');
}

/** Whether the guest's recorded digests differ from its host's current ones (unknown: no). */
function madeFromOther(g: Guest, current: ReadonlyMap<string, SourceDigest | undefined>): boolean {
  const now = current.get(g.host);
  if (now === undefined) return false;
  return g.meta[TEMPLATE_DIGEST_META] !== now.template || g.meta[IMAGE_DIGEST_META] !== now.image;
}

/** Live, counted guests whose recorded digests differ from their host's current ones. */
export function outdatedGuests(guests: readonly Guest[], current: ReadonlyMap<string, SourceDigest | undefined>): Guest[] {
  return guests.filter((g) => GUEST_STATE_FACTS[g.state].counted && madeFromOther(g, current));
}

/** Warm guests (policy warm_pool) made from another template or base image than their host's
 *  current one: the warm pool retires them and makes current ones, so a scale-out never takes
 *  a guest a rollout would replace. */
export function outdatedWarm(guests: readonly Guest[], current: ReadonlyMap<string, SourceDigest | undefined>): Guest[] {
  return guests.filter((g) => g.state === 'warm' && madeFromOther(g, current));
}

export interface BatchFacts {
  settings: RolloutSettings;
  /** The pool's live guests. */
  guests: readonly Guest[];
  /** Ids of the outdated ones (outdatedGuests()). */
  outdated: ReadonlySet<string>;
  /** The pool's max in force (schedules included). */
  max: number;
  now: number;
  nextBatchAt?: number;
}

export type BatchPlan =
  /** No outdated guest is left. */
  | { kind: 'done' }
  | { kind: 'wait'; why: string }
  /** Retire `retireFirst` (max_unavailable), launch `launch` new guests, and once they serve
   *  retire one of `retireAfter` per new guest beyond the first ones. */
  | { kind: 'batch'; launch: number; retireFirst: Guest[]; retireAfter: Guest[] };

/** The next batch of a running rollout. */
export function planBatch(f: BatchFacts): BatchPlan {
  const outdated = f.guests.filter((g) => f.outdated.has(g.id) && GUEST_STATE_FACTS[g.state].counted);
  if (outdated.length === 0) return { kind: 'done' };
  const changing = f.guests.filter((g) => GUEST_STATE_FACTS[g.state].inFlight);
  if (changing.length > 0) return { kind: 'wait', why: `${changing.length} guest(s) changing (${changing.map((g) => `${g.id}:${g.state}`).join(', ')})` };
  const sick = f.guests.filter((g) => g.state === 'sick');
  if (sick.length > 0) return { kind: 'wait', why: `${sick.length} sick guest(s) wait for auto-heal` };
  if (f.nextBatchAt !== undefined && f.now < f.nextBatchAt) return { kind: 'wait', why: `rollout.pause: next batch in ${Math.ceil((f.nextBatchAt - f.now) / 1000)}s` };
  const size = f.guests.filter((g) => GUEST_STATE_FACTS[g.state].counted).length;
  const room = Math.max(0, Math.min(f.settings.maxSurge, f.max - size));
  // Oldest first: they have run longest on what is being replaced. Ties end on the id.
  const candidates = outdated.filter((g) => g.state === 'healthy').sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const k = Math.min(candidates.length, room + f.settings.maxUnavailable);
  if (k === 0) return { kind: 'wait', why: `the pool is at its max (${f.max}): a surge guest would exceed it, and rollout.max_unavailable is 0` };
  const first = Math.min(f.settings.maxUnavailable, k);
  return { kind: 'batch', launch: k, retireFirst: candidates.slice(0, first), retireAfter: candidates.slice(first, k) };
}

/** How many of `retireAfter` go once `served` of the batch's new guests serve: one per new
 *  guest beyond those that replace `retireFirst`, so the size is what it was. */
export function retireAfterCount(plan: Extract<BatchPlan, { kind: 'batch' }>, served: number): number {
  return Math.max(0, Math.min(plan.retireAfter.length, served - plan.retireFirst.length));
}
