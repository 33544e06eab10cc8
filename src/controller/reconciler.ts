// Reconciliation of one pool: the store, what the hypervisor drivers list (guests and clones)
// and what the balancer lists are compared, and each kind of mismatch has one repair. Run by
// the pool's leader when it takes the pool (a restart, a take-over: everything in flight then
// was cut short), every `reconcile.interval`, and after a driver error. Every repair is a
// telemetry report (a log line with event "repair", gridhost_reconcile_repairs_total{kind})
// and an entry in the pool's history.
//
// The kinds (RepairKind) and their one repair each:
//  adopted          a serving guest the store knows and its driver runs, taken up by a new
//                   leader: (re-)registered with the balancer. Not a fault.
//  undone           a launch cut short (cloning/booting with nothing acting on it): rolled back,
//                   i.e. stopped, clone deleted, deregistered, record `failed`.
//  finished         a retirement cut short (draining/stopping): finished, record `gone`.
//  record-gone      a serving record whose guest its driver no longer runs: deregistered,
//                   leftovers removed, record `gone`.
//  unknown-guest    a running guest with the pool's name prefix that the store has no live
//                   record of (a crash between spawn and record, a deposed leader's launch, a
//                   retired guest running again): by the pool's policy (unknown_guests),
//                   retired (stopped, clone deleted; the default: nobody vouched for it), or
//                   adopted when it has an address and passes a launch's health checks (one
//                   that fails them is retired), recorded with the size its driver reports (as a
//                   launch records its template's, so vertical steps can resize it). A guest
//                   whose record says gone or failed is always retired: its end was decided.
//  orphan-clone     a clone (disk, directory, config) with no guest running and no live record:
//                   deleted.
//  balancer-orphan  a balancer entry with no live guest behind it: removed.
//  balancer-missing a healthy guest missing from the balancer (outside a take-over): added.
//  warm-adopted     a warm guest (made and paused for the warm pool) its driver still has, found
//                   by a new leader: kept warm as it is (never undone: it is not half-made; the
//                   one half-made, `warming`, is undone). One its driver lost is record-gone.
//  sick             a guest auto-heal marked sick (out of rotation): left to its pool loop, which
//                   replaces it and then retires it; reported at a take-over only.
import { assertNever, GUEST_STATE_FACTS, LIVE_STATES, type Guest } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Store } from '../store/store.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import type { DiscoveredGuest, Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { SIZE_META } from '../decision/vertical-step.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import type { Telemetry } from './telemetry.ts';
import { driverFence, fenceData, type ActingFence } from './acting-fence.ts';
import type { RepairKind } from './repair-kinds.ts';

import { REPAIR_KINDS } from './repair-kinds.ts';
export { REPAIR_KINDS, type RepairKind } from './repair-kinds.ts';

export interface ReconcileDeps {
  store: Store;
  hypervisors: readonly Hypervisor[];
  balancer: Balancer;
  lifecycle: GuestLifecycle;
  clock: Clock;
  telemetry: Telemetry;
}

export interface Repair {
  kind: RepairKind;
  guest: string;
  detail: string;
}

export interface ReconcileReport {
  pool: string;
  repairs: Repair[];
  /** Guests of the pool whose repair failed (retried at the next reconciliation). */
  failed: string[];
}

export type RepairAction = 'adopt' | 'undo' | 'finish-retire' | 'vanished' | 'replace' | 'keep-warm';

/** Pure: what to do with a stored guest given whether its driver still sees it running. */
export function planRepair(g: Guest, running: boolean): RepairAction {
  const repair = GUEST_STATE_FACTS[g.state].repair;
  switch (repair) {
    case 'undo':
      return 'undo';
    case 'finish-retire':
      return 'finish-retire';
    case 'adopt-if-running':
      return running ? 'adopt' : 'vanished';
    case 'replace':
      // Out of rotation already; running or not, its pool's loop replaces it, then retires it.
      return 'replace';
    case 'adopt-warm':
      return running ? 'keep-warm' : 'vanished';
    case 'none':
      // Finished guests are not listed for repair; one that is has nothing left to undo but its
      // leftovers, which finishing (idempotent stop and delete) removes.
      return 'finish-retire';
    default:
      return assertNever(repair, 'repair');
  }
}

/**
 * Pure: the meta an unknown guest is adopted with: what its driver found, and the size it reports
 * under the keys a launch writes from the template (SIZE_META), so guest.vertical can resize it.
 * Without a reported size there are no size facts (vertical steps leave the guest as it is).
 */
export function adoptedMeta(x: Pick<DiscoveredGuest, 'meta' | 'size'>): Record<string, string> {
  const s = x.size;
  if (!s) return { ...x.meta };
  return {
    ...x.meta,
    [SIZE_META.vcpus]: String(s.vcpus),
    [SIZE_META.maxVcpus]: String(s.maxVcpus),
    [SIZE_META.baseVcpus]: String(s.baseVcpus),
    [SIZE_META.memoryMb]: String(s.memoryMb),
    [SIZE_META.maxMemoryMb]: String(s.maxMemoryMb),
    [SIZE_META.baseMemoryMb]: String(s.baseMemoryMb),
  };
}

export interface ReconcileOptions {
  /** The leader has just taken the pool: nothing of it is in flight in this process. */
  takeover: boolean;
  /** Whether this process has a change of the pool in flight (its guests in transitional
   *  states are then being worked on, not stuck). */
  acting?: () => boolean;
}

/** The report as the 'reconciled' log line shows it: the guests of each kind (every kind listed). */
export function repairsByKind(r: ReconcileReport): Record<RepairKind, string[]> & { failed: string[] } {
  const out = Object.fromEntries(REPAIR_KINDS.map((k) => [k, [] as string[]])) as Record<RepairKind, string[]>;
  for (const x of r.repairs) out[x.kind].push(x.guest);
  return { ...out, failed: [...r.failed] };
}

/**
 * A guest taken up on take-over gets what boot() set from its policy again (Hypervisor.reapply:
 * Xen's credit weight and cap live in the running domain, not its config), recorded in its meta.
 * A failure is said and leaves the guest serving: it ran that way before, and the next take-over
 * tries again. Returns what the repair's detail adds.
 */
async function reapplyOnAdopt(d: ReconcileDeps, g: Guest, policy: Policy, fence: ActingFence | undefined): Promise<string> {
  try {
    const applied = await d.lifecycle.reapply(g, policy, fence);
    if (Object.keys(applied).length === 0) return '';
    const fresh = await d.store.getGuest(g.id);
    if (fresh) await d.store.saveGuest({ ...fresh, meta: { ...fresh.meta, ...applied } }, fenceData(fence));
    return `; ${Object.entries(applied).map(([k, v]) => `${k} ${v}`).join(', ')} set again`;
  } catch (e) {
    const err = wrapError('GH_SCHED_FAILED', e);
    d.telemetry.warn('could not set the policy\'s scheduler parameters on an adopted guest again; it keeps what it had', { pool: g.pool, guest: g.id, code: err.code, error: err.message });
    return `; its policy's scheduler parameters could not be set again (${err.code})`;
  }
}

/** Reconcile one pool. Never throws: what cannot be repaired now is reported and retried later. */
export async function reconcilePool(d: ReconcileDeps, pool: string, policy: Policy | undefined, fence: ActingFence | undefined, opts: ReconcileOptions): Promise<ReconcileReport> {
  const report: ReconcileReport = { pool, repairs: [], failed: [] };
  const discovered = new Map<string, DiscoveredGuest & { driver: string }>();
  /** Drivers whose discovery failed: what they run is unknown, not absent. */
  const blind = new Set<string>();
  for (const hv of d.hypervisors) {
    try {
      for (const x of await hv.discover()) if (x.pool === pool) discovered.set(x.id, { ...x, driver: hv.name });
    } catch (e) {
      blind.add(hv.name);
      d.telemetry.error('discovery failed; healthy guests of this driver are kept as they are, and nothing it runs is treated as unknown', {
        pool, driver: hv.name, error: wrapError('GH_HOST_UNREACHABLE', e).message,
      });
    }
  }
  const stored = await d.store.listGuests({ pool, states: LIVE_STATES });
  const repaired = async (kind: RepairKind, guest: string, detail: string) => {
    report.repairs.push({ kind, guest, detail });
    d.telemetry.repair({ pool, kind, guest, detail });
    await d.store.appendHistory({ pool, at: d.clock.now(), kind: 'repair', repair: kind, guest, detail, ...(fence ? { holder: fence.holder, token: fence.token } : {}) }, fenceData(fence))
      .catch((e: unknown) => d.telemetry.warn('could not record a repair in the pool history', { pool, guest, kind, error: wrapError('GH_STORE_FAILED', e).message }));
  };
  const inBalancer = new Set((await d.balancer.list(pool).catch(() => [])).map((b) => b.id));

  for (const g of stored) {
    const found = discovered.get(g.id);
    // A guest its driver could not look for (discovery failed, or its host is down and was
    // skipped) is not known to be gone: never destroy it for that.
    const unseen = blind.has(g.driver) || d.hypervisors.find((h) => h.name === g.driver)?.hostUp?.(g.host) === false;
    const action = planRepair(g, found?.running ?? unseen);
    // Transitional guests are stuck only when nothing in this process works on them.
    if ((action === 'undo' || action === 'finish-retire') && !opts.takeover && opts.acting?.()) continue;
    // A crash mid-step leaves the store without what that step made (its meta is written when
    // the step returns): the driver's own records (e.g. a Xen guest's config header naming its
    // clone) fill the gaps, so undoing it removes everything. The store wins where both know.
    const full: Guest = found ? { ...g, host: g.host || found.host, address: g.address ?? found.address, meta: { ...found.meta, ...g.meta } } : g;
    try {
      switch (action) {
        case 'adopt': {
          if (!policy) break; // a pool without a policy keeps its guests as they are
          const address = g.address ?? found?.address ?? '';
          if (opts.takeover) {
            await d.balancer.add(pool, g.id, address, d.lifecycle.routeVia(full));
            d.telemetry.guestStep({ pool, guest: g.id, action: 'adopt', from: g.state, to: g.state, durationMs: 0, reason: 'running when this gridhost took the pool' });
            const again = await reapplyOnAdopt(d, full, policy, fence);
            await repaired('adopted', g.id, `${inBalancer.has(g.id) ? 'running; kept in the balancer' : 'running; added to the balancer'}${again}`);
          } else if (!inBalancer.has(g.id) && address) {
            await d.balancer.add(pool, g.id, address, d.lifecycle.routeVia(full));
            await repaired('balancer-missing', g.id, `healthy but not in the balancer; added at ${address}`);
          }
          break;
        }
        case 'undo':
          fence?.check();
          await d.lifecycle.finish(full, policy, `launch cut short (${g.state}) with nothing acting on it`, 'failed', fence);
          await repaired('undone', g.id, `was ${g.state}: stopped, clone deleted, deregistered`);
          break;
        case 'finish-retire':
          fence?.check();
          await d.lifecycle.finish(full, policy, `retirement cut short (${g.state}) with nothing acting on it`, 'gone', fence);
          await repaired('finished', g.id, `was ${g.state}: retirement finished`);
          break;
        case 'vanished':
          fence?.check();
          await d.lifecycle.finish(g, policy, 'its driver no longer runs it', 'gone', fence);
          await repaired('record-gone', g.id, `was ${g.state}, its driver no longer runs it: marked gone`);
          break;
        case 'keep-warm':
          // Paused, out of the balancer, not counted: the warm pool's to take or trim. Said when a
          // leader takes the pool, so the take-over says what it found.
          if (opts.takeover) await repaired('warm-adopted', g.id, 'warm (paused) and its driver still has it: kept in the warm pool');
          break;
        case 'replace':
          // Out of rotation already (auto-heal): its pool's loop launches a replacement, then
          // retires it. Reported when a leader takes the pool, so the take-over says what it found.
          if (opts.takeover) await repaired('sick', g.id, `sick (${g.error ?? 'marked by auto-heal'}): left to the pool loop, which replaces it`);
          break;
        default:
          assertNever(action, 'repair action');
      }
    } catch (e) {
      report.failed.push(g.id);
      d.telemetry.error('repair failed; retried at the next reconciliation', { pool, guest: g.id, action, error: wrapError('GH_INTERNAL', e).message });
      if (e instanceof GridhostError && (e.code === 'GH_FENCED' || e.code === 'GH_LEASE_LOST')) return report;
    }
  }

  // What the drivers have that the store holds no live record of: remove it.
  const live = new Set(stored.map((g) => g.id));
  for (const x of discovered.values()) {
    if (live.has(x.id)) continue;
    const hv = d.hypervisors.find((h) => h.name === x.driver)!;
    const now = d.clock.now();
    const ghost: Guest = { id: x.id, pool: x.pool, state: 'stopping', driver: x.driver, host: x.host, address: x.address, createdAt: now, updatedAt: now, meta: x.meta };
    try {
      fence?.check();
      // A record may have been written since the listing (a launch that just began): re-read.
      const rec = await d.store.getGuest(x.id);
      if (rec && GUEST_STATE_FACTS[rec.state].live) continue;
      const whose = rec ? `its record says ${rec.state}` : 'the store has no record of it';
      const adopt = x.running && !rec && policy?.unknownGuests === 'adopt' && policy.guest.driver === x.driver;
      if (adopt && x.address) {
        try {
          await d.lifecycle.adopt({ id: x.id, pool, driver: x.driver, host: x.host, address: x.address, meta: adoptedMeta(x) }, policy, fence);
          await repaired('unknown-guest', x.id, `running but ${whose}: adopted (passed the health checks, added to the balancer)`);
        } catch (e) {
          // A record written meanwhile (a launch that just began) accounts for it.
          if (e instanceof GridhostError && e.code === 'GH_STALE_WRITE') continue;
          if (e instanceof GridhostError && (e.code === 'GH_FENCED' || e.code === 'GH_LEASE_LOST')) throw e;
          // adopt() cleaned it up (stopped, clone deleted, record failed).
          await repaired('unknown-guest', x.id, `running but ${whose}: adoption failed (${wrapError('GH_BOOT_FAILED', e).message}); stopped and its clone deleted`);
        }
        continue;
      }
      await d.balancer.remove(pool, x.id).catch(() => undefined);
      await hv.stop(ghost, policy?.guest.stopTimeoutMs ?? 10_000, driverFence(fence));
      await hv.deleteClone(ghost, driverFence(fence));
      if (adopt) await repaired('unknown-guest', x.id, `running but ${whose}, at no address its driver knows, so it could not be checked: not adopted; stopped and its clone deleted`);
      else if (x.running) await repaired('unknown-guest', x.id, `running but ${whose}: stopped and its clone deleted`);
      else await repaired('orphan-clone', x.id, `a clone with no guest (${whose}): deleted`);
    } catch (e) {
      report.failed.push(x.id);
      d.telemetry.error('could not remove a guest or clone the store does not account for', { pool, guest: x.id, error: wrapError('GH_STOP_FAILED', e).message });
    }
  }

  // Balancer entries with no live guest behind them (both listed afresh: the repairs above
  // deregistered what they finished).
  const after = new Set((await d.store.listGuests({ pool, states: LIVE_STATES }).catch(() => stored)).map((g) => g.id));
  const entries = (await d.balancer.list(pool).catch(() => [])).map((b) => b.id);
  for (const id of entries) {
    if (after.has(id)) continue;
    try {
      fence?.check();
      await d.balancer.remove(pool, id);
      await repaired('balancer-orphan', id, 'in the balancer with no live guest behind it: removed');
    } catch (e) {
      if (e instanceof GridhostError && e.code === 'GH_BACKEND_UNKNOWN') continue;
      report.failed.push(id);
      d.telemetry.error('could not remove a balancer entry with no guest', { pool, guest: id, error: wrapError('GH_BALANCER_FAILED', e).message });
    }
  }
  return report;
}
