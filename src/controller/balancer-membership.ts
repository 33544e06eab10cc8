// A guest's membership of its pool's balancer: added and held until the balancer's own health
// check routes to it; set draining and waited for until its requests in flight are done.
import type { Guest } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import { waitDrained } from '../drivers/balancer/wait-drained.ts';
import { GridhostError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';

export interface MembershipDeps {
  balancer: Balancer;
  clock: Clock;
  telemetry: Telemetry;
  /** How often to poll the balancer while waiting for registration or drain. */
  pollMs: number;
  /** The host the balancer's route to the guest goes through, if any. */
  routeVia: (g: Guest) => string | undefined;
}

/** Add to the balancer and wait until the balancer's own health check routes to it. */
export async function registerGuest(d: MembershipDeps, g: Guest, policy: Policy): Promise<void> {
  if (!g.address) throw new GridhostError('GH_BOOT_FAILED', `guest ${g.id} has no address after boot`);
  await d.balancer.add(policy.pool, g.id, g.address, d.routeVia(g));
  const deadline = d.clock.now() + policy.guest.bootTimeoutMs;
  for (;;) {
    const b = (await d.balancer.list(policy.pool)).find((x) => x.id === g.id);
    if (b?.healthy) return;
    if (d.clock.now() >= deadline) {
      throw new GridhostError('GH_HEALTH_TIMEOUT', `balancer health check for ${g.id} at ${g.address} did not pass within ${policy.guest.bootTimeoutMs} ms`, { guest: g.id });
    }
    await d.clock.sleep(d.pollMs);
  }
}

/** Set draining and wait up to `timeoutMs` for its requests in flight (a timeout is warned, not thrown). */
export async function drainGuest(d: MembershipDeps, g: Guest, timeoutMs: number): Promise<void> {
  try {
    await d.balancer.setDrain(g.pool, g.id);
  } catch (e) {
    // A backend the balancer no longer knows has nothing in flight: nothing to drain.
    if (e instanceof GridhostError && e.code === 'GH_BACKEND_UNKNOWN') return;
    throw e;
  }
  const r = await waitDrained(d.balancer, g.pool, g.id, timeoutMs, d.pollMs, d.clock);
  if (!r.drained) d.telemetry.warn('drain timed out; stopping with requests in flight', { pool: g.pool, guest: g.id, active: r.active });
}
