// Backend selection for the builtin proxy: least outstanding requests among backends that are
// admin-ready and healthy; ties go round-robin from a cursor the caller advances. In fail-open
// (too few backends pass their checks, see panic.ts) health is ignored for backends that have
// passed a check before. Pure and allocation-free because it runs once per proxied request.
import type { BackendAdmin } from '../balancer.ts';

export interface PickCandidate {
  admin: BackendAdmin;
  healthy: boolean;
  /** Has passed its health check at least once since it was added (fail-open may use it). */
  proven?: boolean;
  /** Requests in flight. */
  active: number;
}

/**
 * Index of the backend to send the next request to, or -1 when none can take it.
 * `start` is the round-robin cursor (any non-negative integer; taken modulo the length): among
 * equally loaded backends the first at or after it wins. `skip` excludes one backend (the one a
 * retry is moving away from). With `failOpen`, a ready backend that is proven counts as healthy.
 */
export function pickBackend(backends: readonly PickCandidate[], start: number, skip?: PickCandidate, failOpen = false): number {
  const n = backends.length;
  if (n === 0) return -1;
  let best = -1;
  let bestActive = Infinity;
  const s = start % n;
  for (let k = 0; k < n; k++) {
    const i = s + k < n ? s + k : s + k - n;
    const b = backends[i]!;
    if (b === skip || b.admin !== 'ready') continue;
    if (!b.healthy && !(failOpen && b.proven === true)) continue;
    if (b.active < bestActive) {
      best = i;
      bestActive = b.active;
    }
  }
  return best;
}
