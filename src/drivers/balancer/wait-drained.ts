// Poll a balancer until a draining backend has no request in flight, or a deadline passes.
// The controller calls this between setDrain() and stopping the guest.
import type { Balancer } from './balancer.ts';

export interface DrainResult {
  /** True when the backend reached 0 requests in flight (or is no longer registered). */
  drained: boolean;
  /** Requests in flight at the last poll. */
  active: number;
}

export interface WaitClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: WaitClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/**
 * Resolves once `list()` shows the backend idle or absent, or with `drained: false` after
 * `timeoutMs`. Rejects only when list() rejects (GridhostError per the Balancer contract).
 */
export async function waitDrained(
  balancer: Balancer,
  pool: string,
  id: string,
  timeoutMs: number,
  pollMs = 100,
  clock: WaitClock = realClock,
): Promise<DrainResult> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const status = (await balancer.list(pool)).find((b) => b.id === id);
    const active = status?.active ?? 0;
    if (active === 0) return { drained: true, active: 0 };
    const left = deadline - clock.now();
    if (left <= 0) return { drained: false, active };
    await clock.sleep(Math.min(pollMs, left));
  }
}
