// Repair after a restart (or a crash at any step). The store says which step each guest was
// in; the drivers say what is really there. Half-made guests are undone, interrupted
// retirements are finished, running healthy guests are adopted (re-registered with the
// balancer), and anything the drivers show that the store does not know is cleaned up.
import type { Guest } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Store } from '../store/store.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import type { DiscoveredGuest, Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import type { Telemetry } from './telemetry.ts';

export interface ReconcileDeps {
  store: Store;
  hypervisors: readonly Hypervisor[];
  balancer: Balancer;
  lifecycle: GuestLifecycle;
  clock: Clock;
  telemetry: Telemetry;
}

export interface ReconcileReport {
  adopted: string[];
  undone: string[];
  finished: string[];
  vanished: string[];
  orphans: string[];
  unmanaged: string[];
}

export type RepairAction = 'adopt' | 'undo' | 'finish-retire' | 'vanished';

/** Pure: what to do with a stored guest given whether its driver still sees it running. */
export function planRepair(g: Guest, running: boolean): RepairAction {
  switch (g.state) {
    case 'cloning':
    case 'booting':
      return 'undo';
    case 'draining':
    case 'stopping':
      return 'finish-retire';
    case 'healthy':
      return running ? 'adopt' : 'vanished';
    default:
      return 'finish-retire';
  }
}

/**
 * Run once at start-up, after the balancer front ends of the known pools exist and before
 * the pool loops start. Guests of pools with no policy are left running and reported.
 */
export async function reconcile(d: ReconcileDeps, policies: ReadonlyMap<string, Policy>): Promise<ReconcileReport> {
  const report: ReconcileReport = { adopted: [], undone: [], finished: [], vanished: [], orphans: [], unmanaged: [] };
  const discovered = new Map<string, DiscoveredGuest & { driver: string }>();
  /** Drivers whose discovery failed: what they run is unknown, not absent. */
  const blind = new Set<string>();
  for (const hv of d.hypervisors) {
    try {
      for (const x of await hv.discover()) discovered.set(x.id, { ...x, driver: hv.name });
    } catch (e) {
      blind.add(hv.name);
      d.telemetry.error('discovery failed; healthy guests of this driver are adopted as they are, and nothing it runs is treated as an orphan', {
        driver: hv.name, error: wrapError('GH_HOST_UNREACHABLE', e).message,
      });
    }
  }
  const stored = await d.store.listGuests({ states: ['cloning', 'booting', 'healthy', 'draining', 'stopping'] });
  const known = new Set((await d.store.listGuests()).map((g) => g.id));

  for (const g of stored) {
    const policy = policies.get(g.pool);
    const found = discovered.get(g.id);
    // A guest its driver could not look for (discovery failed, or its host is down and was
    // skipped) is not known to be gone: never destroy it for that.
    const unseen = blind.has(g.driver) || d.hypervisors.find((h) => h.name === g.driver)?.hostUp?.(g.host) === false;
    const action = planRepair(g, found?.running ?? unseen);
    // A crash mid-step leaves the store without what that step made (its meta is written when
    // the step returns): the driver's own records (e.g. a Xen guest's config header naming its
    // clone) fill the gaps, so undoing it removes everything. The store wins where both know.
    const full: Guest = found ? { ...g, host: g.host || found.host, address: g.address ?? found.address, meta: { ...found.meta, ...g.meta } } : g;
    if (!policy && action === 'adopt') {
      report.unmanaged.push(g.id);
      continue;
    }
    try {
      if (action === 'adopt') {
        await d.balancer.add(g.pool, g.id, g.address ?? found?.address ?? '');
        report.adopted.push(g.id);
        d.telemetry.guestStep({ pool: g.pool, guest: g.id, action: 'adopt', from: g.state, to: g.state, durationMs: 0, reason: 'running at start-up' });
      } else if (action === 'undo') {
        await d.lifecycle.cleanup(full, policy, `half-made (${g.state}) when gridhost stopped`);
        report.undone.push(g.id);
      } else if (action === 'finish-retire') {
        await d.lifecycle.finish(full, policy, `retirement interrupted (${g.state}) when gridhost stopped`, 'gone');
        report.finished.push(g.id);
      } else {
        await d.lifecycle.finish(g, policy, 'guest was no longer running at start-up', 'gone');
        report.vanished.push(g.id);
      }
    } catch (e) {
      d.telemetry.error('repair failed; will retry at next start', { pool: g.pool, guest: g.id, action, error: wrapError('GH_INTERNAL', e).message });
    }
  }

  // Things the drivers have that the store never recorded as live: clean them up.
  const live = new Set(stored.map((g) => g.id));
  for (const x of discovered.values()) {
    if (live.has(x.id)) continue;
    const hv = d.hypervisors.find((h) => h.name === x.driver)!;
    const now = d.clock.now();
    const ghost: Guest = { id: x.id, pool: x.pool, state: 'stopping', driver: x.driver, host: x.host, address: x.address, createdAt: now, updatedAt: now, meta: x.meta };
    try {
      await hv.stop(ghost, 10_000);
      await hv.deleteClone(ghost);
      report.orphans.push(x.id);
      d.telemetry.warn(known.has(x.id) ? 'removed a leftover of a retired guest' : 'removed a guest the store did not know', { pool: x.pool, guest: x.id, driver: x.driver });
    } catch (e) {
      d.telemetry.error('could not remove an orphaned guest', { guest: x.id, error: wrapError('GH_STOP_FAILED', e).message });
    }
  }
  if (report.unmanaged.length > 0) {
    d.telemetry.warn('guests of pools without a policy are left running', { guests: report.unmanaged });
  }
  return report;
}
