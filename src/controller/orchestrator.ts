// Owns the pool loops: starts one per valid policy, swaps in reloaded policies, and stops
// managing a pool whose file was deleted (its guests keep running until an operator asks
// for them to be retired). A retire in progress is joined, never started twice: concurrent
// requests get the one outcome, and it waits for the pool's last loop to finish its action.
import type { PoolQuery } from '../drivers/prometheus/pool-query.ts';
import type { Policy } from '../domain/policy.ts';
import { LIVE_STATES, type Guest } from '../domain/types.ts';
import type { Store } from '../store/store.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { fenceData, type ActingFence } from './acting-fence.ts';
import { savePoolWith } from './save-pool-with.ts';
import { reconcilePool, repairsByKind } from './reconciler.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import type { Actuator } from './actuator.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import { servingState, type ServingState } from '../drivers/balancer/serving-stats.ts';
import { Healer } from './healer.ts';
import { PoolRollout } from './rollout.ts';
import { PoolEvacuation } from './evacuation.ts';
import { HostControl } from './host-control.ts';
import { PoolLoop } from './pool-loop.ts';
import type { PoolStatus } from './pool-status.ts';
import { retirePool, type RetireOutcome } from './pool-retirement.ts';
import { diffPolicies, formatChange } from './policy-diff.ts';

/** A reload line names at most this many changed keys (and counts the rest). */
const MAX_CHANGES_SHOWN = 20;

export interface OrchestratorDeps {
  store: Store;
  balancer: Balancer;
  metrics: MetricsSource;
  /** For rules with source: prometheus. */
  poolQuery?: PoolQuery;
  actuator: Actuator;
  lifecycle: GuestLifecycle;
  clock: Clock;
  telemetry: Telemetry;
  isLost?: (g: Guest) => boolean;
  /** Which serving guests their drivers know to be gone (auto-heal replaces them). */
  gone?: (guests: readonly Guest[]) => Promise<Set<string>>;
  /** For reconciliation of the pools this process leads. */
  hypervisors: readonly Hypervisor[];
  /** One process and no leases: every pool with a policy is led here at once (tests). */
  leaderless?: boolean;
  /** How often a led pool is reconciled (besides after driver errors); default 5 minutes. */
  reconcileEveryMs?: number;
  /** Told when this process starts or stops leading a pool (metrics). */
  onLeading?: (pool: string, leading: boolean) => void;
}

/** Why a pool stops being led here (see Leadership). */
export type LoseReason = 'handover' | 'lost' | 'expired' | 'unwanted' | 'stopping';

export class Orchestrator {
  private readonly loops = new Map<string, PoolLoop>();
  /** Every pool with a valid policy here, led or not. */
  private readonly known = new Map<string, Policy>();
  /** Pools whose start (take) is under way, so a loss waits for it. */
  private readonly taking = new Map<string, Promise<void>>();
  /** Loops of pools whose policy was removed, until their action in flight has finished. */
  private readonly stoppingLoops = new Map<string, Promise<void>>();
  /** The last policy of each unmanaged pool: its drain and stop limits still apply when retired. */
  private readonly lastPolicy = new Map<string, Policy>();
  private readonly retiring = new Map<string, Promise<RetireOutcome>>();
  private stopped = false;

  /** drain-host / undrain-host and the hosts' view (any process answers: hosts have no leader). */
  readonly hosts: HostControl;

  constructor(private readonly d: OrchestratorDeps) {
    this.hosts = new HostControl({ store: d.store, clock: d.clock, telemetry: d.telemetry, hypervisors: d.hypervisors });
  }

  /** Policies of the pools this process leads. */
  policies(): Map<string, Policy> {
    return new Map([...this.loops].map(([k, l]) => [k, l.status().policy]));
  }

  /** Every pool this process has a valid policy for (the ones it may lead). */
  knownPools(): string[] {
    return [...this.known.keys()].sort();
  }

  policy(pool: string): Policy | undefined {
    return this.known.get(pool);
  }

  /** Prepare the balancer front end for a policy (before reconcile adopts guests into it). */
  async preparePool(p: Policy): Promise<void> {
    const { listen, ...settings } = p.balancer;
    await this.d.balancer.ensurePool(p.pool, listen, p.guest.healthPath, settings);
  }

  /**
   * A valid policy for a pool (new or changed). A led pool takes it from its next tick; a pool
   * not led here waits for its lease (Leadership calls take()). Without leadership (one process,
   * tests) the pool is taken at once.
   */
  async apply(p: Policy): Promise<void> {
    if (this.stopped) return;
    // A policy back for a pool being retired: the retire finishes first, then the pool starts
    // afresh. Otherwise the pool is known at once (no await): the first leadership round, right
    // after the policy folder's first scan, must see it.
    const retire = this.retiring.get(p.pool);
    if (retire) {
      await retire.catch(() => undefined);
      if (this.stopped) return;
    }
    this.known.set(p.pool, p);
    const existing = this.loops.get(p.pool);
    if (existing) {
      const old = existing.status().policy;
      // Any balancer setting (listen, checks, timeouts, panic threshold) or the health path.
      if (JSON.stringify(old.balancer) !== JSON.stringify(p.balancer) || old.guest.healthPath !== p.guest.healthPath) await this.preparePool(p);
      existing.updatePolicy(p);
      const changes = diffPolicies(old, p).map(formatChange);
      const shown = changes.length > MAX_CHANGES_SHOWN ? [...changes.slice(0, MAX_CHANGES_SHOWN), `and ${changes.length - MAX_CHANGES_SHOWN} more`] : changes;
      this.d.telemetry.info(changes.length === 0 ? 'policy reloaded: nothing changed' : `policy reloaded: ${shown.join(', ')}`, { pool: p.pool, file: p.file, changes: shown });
      return;
    }
    if (!this.d.leaderless) return;
    await this.take(p.pool, undefined);
  }

  /**
   * Start leading a pool: open its front end, reconcile it (everything in flight then was cut
   * short by whoever led it before), record it as managed and start its loop, all under the
   * pool's fence. A rejection means the pool is not led (Leadership gives the lease back).
   */
  async take(pool: string, fence: ActingFence | undefined): Promise<void> {
    const p = this.known.get(pool);
    if (!p) throw new GridhostError('GH_NOT_FOUND', `no policy for pool ${pool} here`);
    if (this.loops.has(pool) || this.stopped) return;
    const run = (async () => {
      await this.preparePool(p);
      const report = await reconcilePool(this.reconcileDeps(), pool, p, fence, { takeover: true });
      this.d.telemetry.info('reconciled', { pool, takeover: true, ...repairsByKind(report) });
      fence?.check();
      // A pool managed anew after a retire is no longer retired.
      await savePoolWith(this.d.store, pool, (rec) => {
        const { retiredAt: _retired, ...kept } = rec ?? { pool, desired: p.min };
        return { ...kept, file: p.file, managed: true, updatedAt: this.d.clock.now() };
      }, fenceData(fence));
      const { store, balancer, lifecycle, clock, telemetry, gone } = this.d;
      const healer = new Healer({ store, balancer, lifecycle, clock, telemetry, ...(gone ? { gone } : {}) });
      const loop: PoolLoop = new PoolLoop(p, {
        store, metrics: this.d.metrics, ...(this.d.poolQuery ? { poolQuery: this.d.poolQuery } : {}), actuator: this.d.actuator, clock, telemetry, isLost: this.d.isLost,
        blockedBy: (name) => balancer.blocked?.(name),
        healer,
        ...(fence ? { fence } : {}),
        reconcile: async () => {
          const r = await reconcilePool(this.reconcileDeps(), pool, loop.status().policy, fence, { takeover: false });
          if (r.repairs.length > 0 || r.failed.length > 0) this.d.telemetry.info('reconciled', { pool, takeover: false, ...repairsByKind(r) });
        },
        reconcileEveryMs: this.d.reconcileEveryMs,
        lifecycle,
        hostFacts: async () => this.hypervisorNamed(loop.status().policy.guest.driver).hostFacts?.(),
        rollout: new PoolRollout(pool, { store, lifecycle, clock, telemetry, ...(fence ? { fence } : {}), hypervisorFor: (name) => this.hypervisorNamed(name) }),
        evacuation: new PoolEvacuation(pool, { store, lifecycle, clock, telemetry, ...(fence ? { fence } : {}), hypervisorFor: (name) => this.hypervisorNamed(name) }),
      });
      if (this.stopped) return;
      this.loops.set(pool, loop);
      loop.start();
      this.d.onLeading?.(pool, true);
      this.d.telemetry.info('managing pool', { pool, file: p.file, min: p.min, max: p.max, ...(fence ? { token: fence.token, holder: fence.holder } : {}) });
    })();
    this.taking.set(pool, run);
    try {
      await run;
    } finally {
      this.taking.delete(pool);
    }
  }

  /**
   * Stop leading a pool: its loop stops (an action in flight finishes, or fails at its next
   * fenced step). When another gridhost may now lead it, its front end closes too, so the new
   * leader can bind the port; a pool that stopped only because the store cannot be reached
   * keeps serving (nobody else can lead it meanwhile).
   */
  async release(pool: string, why: LoseReason): Promise<void> {
    await this.taking.get(pool)?.catch(() => undefined);
    const loop = this.loops.get(pool);
    this.loops.delete(pool);
    if (loop) await loop.stop();
    this.d.onLeading?.(pool, false);
    this.d.telemetry.forgetPool(pool);
    if (why === 'handover' || why === 'lost') {
      await this.d.balancer.removePool(pool).catch((e: unknown) => {
        this.d.telemetry.warn('could not close the front end of a pool led elsewhere now', { pool, error: wrapError('GH_BALANCER_FAILED', e).message });
      });
    }
  }

  private hypervisorNamed(name: string): Hypervisor {
    const hv = this.d.hypervisors.find((h) => h.name === name);
    if (!hv) throw new GridhostError('GH_CONFIG_INVALID', `no hypervisor driver named ${name} is configured`);
    return hv;
  }

  private reconcileDeps() {
    return { store: this.d.store, hypervisors: this.d.hypervisors, balancer: this.d.balancer, lifecycle: this.d.lifecycle, clock: this.d.clock, telemetry: this.d.telemetry };
  }

  /** The policy file is gone: stop deciding for the pool, keep its guests and front end. */
  async unmanage(pool: string): Promise<void> {
    const known = this.known.get(pool);
    this.known.delete(pool);
    const loop = this.loops.get(pool);
    if (known) this.lastPolicy.set(pool, loop?.status().policy ?? known);
    if (!loop) return;
    this.loops.delete(pool);
    const fence = loop.fence();
    const stopped = loop.stop();
    this.stoppingLoops.set(pool, stopped);
    try {
      await stopped;
    } finally {
      if (this.stoppingLoops.get(pool) === stopped) this.stoppingLoops.delete(pool);
    }
    // A file that took the pool over (a rename) may have started a new loop meanwhile.
    if (this.loops.has(pool)) return;
    await savePoolWith(this.d.store, pool, (rec) => (rec ? { ...rec, managed: false, updatedAt: this.d.clock.now() } : undefined), fenceData(fence))
      .catch((e: unknown) => this.d.telemetry.warn('could not mark the pool unmanaged in the store', { pool, error: wrapError('GH_STORE_FAILED', e).message }));
    this.d.telemetry.warn('policy removed: pool no longer managed; its guests keep running', { pool });
  }

  /**
   * Operator's request: drain and retire every guest of a pool that is no longer managed.
   * Rejects GH_POOL_MANAGED while a policy manages the pool, GH_NOT_FOUND for a pool neither
   * managed nor in the store. A call while the pool is being retired joins that retire.
   */
  retireUnmanaged(pool: string): Promise<RetireOutcome> {
    const running = this.retiring.get(pool);
    if (running) return running;
    if (this.managedHere(pool)) return Promise.reject(this.managedError(pool));
    const p = (async () => {
      // The loop that managed the pool may still be finishing a scale-in: retiring its victims
      // a second time would repeat their steps (and their log lines).
      await this.stoppingLoops.get(pool);
      if (this.managedHere(pool)) throw this.managedError(pool);
      const live = await this.d.store.listGuests({ pool, states: LIVE_STATES });
      if (live.length === 0 && !(await this.d.store.getPool(pool))) throw new GridhostError('GH_NOT_FOUND', `no pool named ${pool}`, { pool });
      const out = await retirePool(this.d, pool, this.lastPolicy.get(pool), 'retired by the operator after its policy was removed');
      if (out.failed.length === 0) {
        await this.d.balancer.removePool(pool).catch((e: unknown) => {
          this.d.telemetry.warn('could not close the pool\'s balancer front end; its port stays bound until gridhost restarts', { pool, error: wrapError('GH_BALANCER_FAILED', e).message });
        });
        this.d.telemetry.forgetPool(pool);
        this.lastPolicy.delete(pool);
      }
      return out;
    })().finally(() => this.retiring.delete(pool));
    this.retiring.set(pool, p);
    return p;
  }

  /** Whether an operator's retire of the pool is in progress. */
  isRetiring(pool: string): boolean {
    return this.retiring.has(pool);
  }

  /** A policy here manages the pool (whether this process or another one leads it). */
  private managedHere(pool: string): boolean {
    return this.loops.has(pool) || this.known.has(pool);
  }

  private managedError(pool: string): GridhostError {
    const p = this.loops.get(pool)?.status().policy ?? this.known.get(pool);
    return new GridhostError('GH_POOL_MANAGED', `pool ${pool} is managed by a policy (${p?.file}); remove its policy file first`, { pool });
  }

  status(pool: string): PoolStatus | undefined {
    return this.loops.get(pool)?.status();
  }

  loop(pool: string): PoolLoop | undefined {
    return this.loops.get(pool);
  }

  /** Pools led (and acted on) by this process. */
  ledPools(): string[] {
    return [...this.loops.keys()].sort();
  }

  /** Pools with a policy here (led here or elsewhere). */
  managedPools(): string[] {
    return this.knownPools();
  }

  /** The balancer's view of the pool's backends (health, requests in flight and served). */
  async backends(pool: string) {
    return this.d.balancer.list(pool).catch(() => []);
  }

  /** Whether clients of the pool reach a backend, and if not why (a pool the balancer cannot report does not serve). */
  async serving(pool: string): Promise<ServingState | undefined> {
    try {
      return servingState(await this.d.balancer.serving(pool));
    } catch (e) {
      return { serving: false, failOpen: false, healthy: 0, backends: 0, reason: `the balancer cannot report the pool: ${wrapError('GH_BALANCER_FAILED', e).message}` };
    }
  }

  /** The pool's backends as backends() gives them, and the balancer's error when it did not answer (what the API shows as blocking). */
  async backendsChecked(pool: string): Promise<{ backends: Awaited<ReturnType<Balancer['list']>>; error?: string }> {
    try {
      return { backends: await this.d.balancer.list(pool) };
    } catch (e) {
      return { backends: [], error: wrapError('GH_BALANCER_FAILED', e).message };
    }
  }

  async guests(pool: string): Promise<Guest[]> {
    return this.d.store.listGuests({ pool, states: LIVE_STATES });
  }

  /** Stop all loops and wait for actions in flight. Guests keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
  }
}
