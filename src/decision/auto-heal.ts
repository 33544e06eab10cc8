// Auto-heal, pure: which serving guests are sick, and which sick guests to start replacing now.
// A guest is sick when it was healthy and its health check then failed `fall` times in a row
// (the balancer's fall: it is already out of rotation), or when its driver says its process or
// domain is gone. Health is not trusted while the pool fails open: checks failing on (nearly)
// every guest at once more likely mean overload than breakage, and replacing every overloaded
// guest would only churn. For the same reason a fallen guest is judged only once it has stayed
// down for a confirmation window: checks that start failing on every guest at once end on each
// within about one check interval of the others, so a guest taken out at once would leave the
// pool before the pool could fail open; and a fallen guest that still completes requests is busy,
// so the window runs from its last completed request. Replacements wait for the launch circuit breaker and are
// capped per pool (auto_heal.max_concurrent); the imperative part is src/controller/healer.ts.
// With auto-heal off gridhost does not judge guests by their health checks (the balancer alone
// keeps a failing one out of rotation until it passes again), but a guest whose process or
// domain is gone can never serve again whatever the policy says: it is still marked sick (no
// longer counted) and retired, so no clone or balancer entry is left behind, and the pool's own
// rules (min, load) launch another when they call for one.
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';

/** What auto-heal needs to know of one backend (the balancer's view of a guest). */
export interface BackendHealth {
  healthy: boolean;
  /** Times it fell from healthy to unhealthy since it was added. */
  downs: number;
  /** Epoch ms `healthy` last changed (absent: the balancer cannot say; the fall counts as confirmed). */
  changedAt?: number;
  /** Epoch ms its last request completed, when the balancer can say. */
  servedAt?: number;
  lastCheck?: { ok: boolean; detail: string };
}

export interface HealthView {
  /** Backend id (= guest id) -> its health; undefined when the balancer could not be read. */
  backends?: ReadonlyMap<string, BackendHealth>;
  /** The pool fails open: health says nothing about single guests now. */
  failOpen: boolean;
  /** Guests whose driver reports their process or domain gone. */
  gone: ReadonlySet<string>;
  /** The check's fall count, when the policy sets it (for the reason text). */
  fall?: number;
  /** Now, and how long a fallen guest must stay down before it is sick (confirmMs()). */
  now?: number;
  confirmMs?: number;
}

/** The balancer's longer default check interval (through a dom0's SSH connection; direct: 250 ms),
 *  used when the policy sets none: a longer wait is safe, a shorter one is not. */
const DEFAULT_CHECK_INTERVAL_MS = 2000;
const DEFAULT_FALL = 2;

/** How long a fallen guest stays down before auto-heal trusts the fall: (fall + 1) check
 *  intervals, by then every guest whose checks began failing at the same moment has fallen too. */
export function confirmMs(policy: Policy): number {
  const c = policy.balancer.check;
  return ((c.fall ?? DEFAULT_FALL) + 1) * (c.intervalMs ?? DEFAULT_CHECK_INTERVAL_MS);
}

export type SickCause = 'gone' | 'health';

export interface SickVerdict {
  guest: Guest;
  cause: SickCause;
  reason: string;
}

export function findSick(guests: readonly Guest[], view: HealthView): SickVerdict[] {
  const out: SickVerdict[] = [];
  for (const g of guests) {
    if (g.state !== 'healthy') continue;
    if (view.gone.has(g.id)) {
      out.push({ guest: g, cause: 'gone', reason: `its ${g.driver === 'xen' ? 'domain' : 'process'} is gone (${g.driver} driver on ${g.host || 'its host'})` });
      continue;
    }
    const b = view.backends?.get(g.id);
    if (view.failOpen || b === undefined || b.healthy || b.downs === 0) continue;
    // A guest that still completes requests after its check fell is busy, not broken (its checks
    // time out behind real work, as under overload): the confirmation runs from its last answer.
    const since = b.changedAt === undefined ? undefined : Math.max(b.changedAt, b.servedAt ?? b.changedAt);
    if (since !== undefined && view.now !== undefined && view.now - since < (view.confirmMs ?? 0)) continue;
    const last = b.lastCheck && !b.lastCheck.ok ? `, the last: ${b.lastCheck.detail}` : '';
    const times = view.fall === undefined ? 'balancer.check.fall times' : `${view.fall} time${view.fall === 1 ? '' : 's'}`;
    out.push({ guest: g, cause: 'health', reason: `failed its health check ${times} in a row after being healthy${last}` });
  }
  return out;
}

/** The meta key a replacement carries: the id of the sick guest it replaces. */
export const REPLACES_META = 'replaces';

/**
 * Sick guests auto-heal will replace and whose replacement is not in the pool yet: decisions
 * count each as capacity coming (as they count a guest booting), so a pool never launches
 * twice for one loss (once by its rules, once by auto-heal) and a sick guest holds nothing.
 * Once its replacement exists (any state that counts) that guest counts instead. With
 * auto-heal off a sick guest is retired and nothing replaces it: it counts as nothing.
 */
export function awaitingReplacement(policy: Policy, guests: readonly Guest[]): number {
  if (!policy.autoHeal.enabled) return 0;
  // Most pools have no sick guest: they are answered without building the set (this runs per
  // pool and tick).
  let sick = 0;
  for (const g of guests) if (g.state === 'sick') sick++;
  if (sick === 0) return 0;
  const replaced = new Set<string>();
  for (const g of guests) {
    const of = g.meta[REPLACES_META];
    if (of !== undefined && (g.state === 'cloning' || g.state === 'booting' || g.state === 'healthy')) replaced.add(of);
  }
  return guests.filter((g) => g.state === 'sick' && !replaced.has(g.id)).length;
}

/** A replacement under way: the sick guest it replaces and when it began. */
export interface Replacement {
  sick: string;
  startedAt: number;
}

export interface HealPlan {
  /** Sick guests whose replacement starts now, oldest sick first. */
  start: Guest[];
  /** Sick guests to retire now without a replacement (auto-heal off: the pool's rules decide
   *  whether another guest is launched). */
  retire?: Guest[];
  /** Why sick guests wait, when some do. */
  waiting?: string;
}

export function planReplacements(
  policy: Policy,
  guests: readonly Guest[],
  replacing: readonly Replacement[],
  breaker: 'closed' | 'open' | 'half-open',
): HealPlan {
  const busy = new Set(replacing.map((r) => r.sick));
  const sick = guests.filter((g) => g.state === 'sick' && !busy.has(g.id)).sort((a, b) => a.updatedAt - b.updatedAt || (a.id < b.id ? -1 : 1));
  if (sick.length === 0) return { start: [] };
  // Off: a sick guest (marked while it was on, or gone since) is only cleaned up; nothing is
  // launched for it, and retiring launches nothing, so neither the breaker nor the cap applies.
  if (!policy.autoHeal.enabled) return { start: [], retire: sick };
  if (breaker === 'open') return { start: [], waiting: `${sick.length} sick guest(s) wait: the launch circuit breaker is open` };
  // Half-open allows one trial launch: one replacement at a time until it closes.
  const cap = breaker === 'half-open' ? 1 : policy.autoHeal.maxConcurrent;
  const room = Math.max(0, cap - replacing.length);
  const start = sick.slice(0, room);
  const left = sick.length - start.length;
  return left > 0 ? { start, waiting: `${left} sick guest(s) wait: ${replacing.length + start.length} replacement(s) under way (auto_heal.max_concurrent ${cap})` } : { start };
}
