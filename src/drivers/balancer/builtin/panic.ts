// Fail-open (Envoy's panic threshold), pure: when fewer than `thresholdPercent` of a pool's
// proven ready backends pass their health check, health stops deciding where requests go,
// because checks that fail all at once more likely say "every guest is overloaded" than "every
// guest is broken", and a 503 for everyone is the worst answer to overload. Backends that never
// passed a check (still booting) and draining ones are left out of both counts.

export interface PanicCandidate {
  admin: 'ready' | 'drain';
  healthy: boolean;
  proven: boolean;
}

export interface PanicView {
  /** Ready backends that pass their check. */
  healthy: number;
  /** Ready backends that have passed a check since they were added. */
  proven: number;
  failOpen: boolean;
  /** Backends a request could go to now (0: clients get 503). */
  routable: number;
}

export function panicView(backends: readonly PanicCandidate[], thresholdPercent: number): PanicView {
  let healthy = 0;
  let proven = 0;
  for (const b of backends) {
    if (b.admin !== 'ready') continue;
    if (b.healthy) healthy++;
    if (b.proven || b.healthy) proven++;
  }
  const failOpen = proven > 0 && thresholdPercent > 0 && (healthy * 100) / proven < thresholdPercent;
  return { healthy, proven, failOpen, routable: failOpen ? proven : healthy };
}

export function describePanic(v: PanicView, thresholdPercent: number): string {
  return `${v.healthy} of ${v.proven} backends pass their health check (panic threshold ${thresholdPercent}%)`;
}
