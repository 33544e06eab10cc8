// Moving a pool's guests off hosts an operator closed (`gridhost drain-host HOST`, issue 14).
// Replace-then-retire, one guest at a time: a new guest is launched (placement skips closed
// hosts, guest-lifecycle.ts), or taken warm off the closed hosts (replacement-launch.ts), and only once it serves is one guest on the closed host drained
// and retired, so the pool never drops below its size. While the pool is at its max, the new
// guest is one above it for the length of the swap. A pool with nowhere else to go (every other
// host closed or full) keeps its guests and says why (the launch fails with GH_OUT_OF_CAPACITY).
//
// Where the driver can move a running guest (Hypervisor.migrate: Xen's `xl migrate` between
// dom0s that share the guest's storage), the guest is migrated live instead, and replaced only
// when the migration fails.
//
// What the batches depend on is in the store: the host records (read each tick, so every
// pool's leader, in any process, sees a drain at once) and the guests. A restarted gridhost
// continues where the last one stopped (the reconciler repairs a batch cut short).
import type { Policy } from '../domain/policy.ts';
import { GUEST_STATE_FACTS, LIVE_STATES, type Guest, type ScaleEvent } from '../domain/types.ts';
import { boundsAt } from '../decision/schedule.ts';
import { planBatch } from '../decision/rollout-plan.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import type { PoolRecord, Store } from '../store/store.ts';
import { closedHostsOf, guestsToEvacuate } from '../decision/evacuation-plan.ts';
import { wrapError, type GridhostError } from '../errors/errors.ts';
import { driverFence, fenceData, type ActingFence } from './acting-fence.ts';
import type { Clock } from './clock.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import type { Telemetry } from './telemetry.ts';
import type { BatchHooks } from './rollout.ts';
import { ReplacementLaunch } from './replacement-launch.ts';

/** One guest at a time, never below the size. */
const EVACUATION = Object.freeze({ mode: 'auto' as const, maxSurge: 1, maxUnavailable: 0, pauseMs: 0 });

export interface EvacuationDeps {
  store: Store;
  lifecycle: GuestLifecycle;
  clock: Clock;
  telemetry: Telemetry;
  hypervisorFor: (driver: string) => Hypervisor;
  fence?: ActingFence;
}

/** What the API shows of a pool's evacuation. */
export interface EvacuationStatus {
  /** Guests of the pool on closed hosts, still to move. */
  onClosedHosts: string[];
  /** Why the next move waits, when it does. */
  waiting?: string;
}

export class PoolEvacuation {
  private onClosed: string[] = [];
  private waiting?: string;
  private failedAt?: number;
  private readonly replacements: ReplacementLaunch;

  constructor(private readonly pool: string, private readonly d: EvacuationDeps) {
    this.replacements = new ReplacementLaunch(d);
  }

  status(): EvacuationStatus {
    return { onClosedHosts: [...this.onClosed], ...(this.waiting !== undefined && this.onClosed.length > 0 ? { waiting: this.waiting } : {}) };
  }

  /** Every tick: the guests on closed hosts, and when `mayAct` the next move to run alone in
   *  the pool loop's action slot. The record argument keeps the rollout's tick signature. */
  async tick(policy: Policy, guests: readonly Guest[], _rec: PoolRecord | undefined, mayAct: boolean, hooks: BatchHooks): Promise<(() => Promise<void>) | undefined> {
    const closed = closedHostsOf(await this.d.store.listHosts());
    const moving = guestsToEvacuate(guests, closed);
    this.onClosed = moving.map((g) => g.id);
    if (moving.length === 0) {
      this.waiting = undefined;
      return undefined;
    }
    // A failed move waits a boot timeout before the next try (the breaker counts its launches).
    const now = this.d.clock.now();
    if (this.failedAt !== undefined && now - this.failedAt < policy.guest.bootTimeoutMs) return this.wait(`the last move failed; next try in ${Math.ceil((policy.guest.bootTimeoutMs - (now - this.failedAt)) / 1000)}s`);
    if (!mayAct) return this.wait('the pool is busy (a scale or operator\'s action, a rollout, a pause, or an open breaker)');
    const size = guests.filter((g) => GUEST_STATE_FACTS[g.state].counted).length;
    const plan = planBatch({ settings: EVACUATION, guests, outdated: new Set(this.onClosed), max: Math.max(boundsAt(policy, now).max, size + 1), now });
    if (plan.kind === 'done') return undefined;
    if (plan.kind === 'wait') return this.wait(plan.why);
    this.waiting = undefined;
    const victim = plan.retireAfter[0];
    if (victim === undefined) return undefined;
    return () => this.move(policy, victim, size, hooks);
  }

  private wait(why: string): undefined {
    if (why !== this.waiting) this.d.telemetry.info(`evacuation of ${this.pool} waits: ${why}`, { pool: this.pool, event: 'evacuation' });
    this.waiting = why;
    return undefined;
  }

  /** Move one guest off its closed host: live migration where the driver can, else replace it. */
  private async move(policy: Policy, victim: Guest, size: number, hooks: BatchHooks): Promise<void> {
    const t0 = this.d.clock.now();
    // Re-check against fresh state before acting: the host may have been reopened meanwhile.
    const [host, fresh] = await Promise.all([this.d.store.getHost(victim.host), this.d.store.getGuest(victim.id)]);
    if (host?.drain === undefined || fresh?.state !== 'healthy' || fresh.host !== victim.host) return;
    const why = `host ${victim.host} is drained (${host.drain.reason || 'no reason given'}, by ${host.drain.by}): move ${victim.id}`;
    const ev = await this.report(this.event(policy, size, why, 'started'));
    let detail: string;
    let failed: GridhostError | undefined;
    const migrated = await this.tryMigrate(policy, fresh);
    if (migrated.ok) {
      detail = `migrated ${victim.id} live from ${victim.host} to ${migrated.to}`;
    } else {
      let made: Guest | undefined;
      try {
        // Never a warm guest on the host being drained (nor any closed one).
        made = (await this.replacements.launch(policy, { ...(this.d.fence ? { fence: this.d.fence } : {}), avoidHosts: [victim.host], why: `replacing ${victim.id} on drained host ${victim.host}` })).guest;
        hooks.recordLaunches(1, []);
      } catch (e) {
        failed = wrapError('GH_BOOT_FAILED', e);
        hooks.recordLaunches(0, [failed]);
      }
      const before = migrated.why ? `${migrated.why}; ` : '';
      if (made) {
        // The new guest serves: now the old one goes (drained first), so the size never dips.
        const old = await this.d.store.getGuest(victim.id);
        if (old?.state === 'healthy') {
          try {
            await this.d.lifecycle.retire(old, policy, why, this.d.fence);
          } catch (e) {
            failed = wrapError('GH_STOP_FAILED', e);
          }
        }
        detail = `${before}replaced ${victim.id} on ${victim.host} by ${made.id} on ${made.host}${failed ? `; retiring ${victim.id} failed: ${failed.message}` : ''}`;
      } else {
        detail = `${before}could not replace ${victim.id}: ${failed?.message}; it keeps serving on ${victim.host}`;
      }
    }
    this.failedAt = failed ? this.d.clock.now() : undefined;
    if (ev?.id !== undefined) await this.d.store.updateEvent(ev.id, failed ? 'failed' : 'done', detail, fenceData(this.d.fence)).catch(() => undefined);
    this.d.telemetry.scaleEvent({ pool: this.pool, direction: 'replace', from: size, to: size, reason: why, outcome: failed ? 'failed' : 'done', detail, durationMs: this.d.clock.now() - t0 });
    if (failed) this.d.telemetry.warn(`evacuation of ${this.pool}: ${detail}`, { pool: this.pool, event: 'evacuation', code: failed.code });
  }

  /** Live migration to an open host, when the guest's driver can do it for this guest. */
  private async tryMigrate(policy: Policy, g: Guest): Promise<{ ok: true; to: string } | { ok: false; why?: string }> {
    const hv = this.d.hypervisorFor(g.driver);
    if (!hv.migrate) return { ok: false };
    const closed = closedHostsOf(await this.d.store.listHosts());
    let r: Awaited<ReturnType<NonNullable<Hypervisor['migrate']>>>;
    try {
      const fence = driverFence(this.d.fence);
      r = await hv.migrate(g, { avoidHosts: [...closed], policy, ...(fence ? { fence } : {}) });
    } catch (e) {
      const err = wrapError('GH_MIGRATE_FAILED', e);
      if (err.code === 'GH_FENCED' || err.code === 'GH_LEASE_LOST') throw err;
      return { ok: false, why: `live migration failed (${err.message})` };
    }
    if (r === undefined) return { ok: false };
    // It runs on the new host now: record that, then let the balancer reach it there.
    this.d.fence?.check();
    const moved = await this.d.store.saveGuest({ ...g, host: r.host, ...(r.address ? { address: r.address } : {}), meta: { ...g.meta, ...r.meta }, updatedAt: this.d.clock.now() }, fenceData(this.d.fence));
    await this.d.lifecycle.rehome(g, moved, policy);
    return { ok: true, to: r.host };
  }

  private event(policy: Policy, size: number, reason: string, outcome: ScaleEvent['outcome']): ScaleEvent {
    const b = boundsAt(policy, this.d.clock.now());
    return {
      pool: this.pool, at: this.d.clock.now(), direction: 'replace', from: size, to: size, reason,
      inputs: { series: {}, min: b.min, max: b.max, schedules: b.active }, outcome,
      ...(this.d.fence ? { holder: this.d.fence.holder, token: this.d.fence.token } : {}),
    };
  }

  private async report(e: ScaleEvent): Promise<ScaleEvent | undefined> {
    this.d.telemetry.scaleEvent({ pool: e.pool, direction: e.direction, from: e.from, to: e.to, reason: e.reason, outcome: e.outcome });
    return this.d.store.appendEvent(e, fenceData(this.d.fence)).catch(() => undefined);
  }
}
