// Leader leases per pool, for several gridhost processes on one store. Exactly one process acts
// on a pool at a time; pools are spread over the live processes and move when one dies.
//
//  - Every process heartbeats a member record (ttl = the lease time) naming the pools it has a
//    valid policy for, and lists the live ones.
//  - A pool's owner is chosen by rendezvous hashing of (pool, member id) over the live members
//    that announce the pool, so every process computes the same owner, pools spread evenly,
//    and when a member joins or leaves only the pools it gains or loses move.
//  - The owner acquires the pool's lease (a new holder's fencing token is one higher) and
//    renews it every renewMs.
//  - A holder may act only until `asked + leaseMs - marginMs`, where `asked` is when it sent its
//    last successful renewal, measured on its own clock: the store's expiry is at least
//    leaseMs after it received that request, so the holder stops acting before its lease can
//    expire, whatever the clocks say. After that every fence check throws GH_LEASE_LOST and the
//    store refuses its token once another holder has the pool.
//  - A pool whose owner is now another live member is handed over: its loop stops (the action
//    in flight finishes or is cut at its next step), then the lease is released.
import { createHash } from 'node:crypto';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Lease, Member, Store } from '../store/store.ts';
import type { ActingFence } from './acting-fence.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import type { LoseReason } from './orchestrator.ts';

export interface LeadershipOptions {
  store: Store;
  clock: Clock;
  telemetry: Telemetry;
  /** This process's member id (unique per start). */
  holder: string;
  /** Where this process's API listens, announced to the others. */
  api?: string;
  /** Its API's URL, kept with each lease it takes (operators asking another process are sent here). */
  apiUrl?: string;
  leaseMs: number;
  /** Default leaseMs / 3. */
  renewMs?: number;
  /** How long before the lease could expire the holder stops acting; default leaseMs / 5. */
  marginMs?: number;
  /** The pools this process has a valid policy for. */
  pools: () => readonly string[];
  /** Called once the lease is held: prepare and start the pool; a rejection gives it back. */
  onAcquire: (pool: string, fence: ActingFence) => Promise<void>;
  /** Called when the pool must no longer be acted on here (lost, handed over, policy gone). */
  onLose: (pool: string, why: LoseReason) => Promise<void>;
}

interface Held {
  lease: Lease;
  /** This process may act until then (own clock). */
  actUntil: number;
  fence: ActingFence;
}

/** Rendezvous (highest random weight) choice of a pool's owner among member ids. */
export function ownerOf(pool: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = '';
  for (const m of members) {
    const w = createHash('sha256').update(`${pool}\0${m}`).digest('hex');
    if (best === undefined || w > bestWeight) {
      best = m;
      bestWeight = w;
    }
  }
  return best;
}

export class Leadership {
  private readonly held = new Map<string, Held>();
  private readonly busy = new Set<string>();
  /** Pools being started (onAcquire running): not considered by rounds until it settles. */
  private readonly starting = new Map<string, Promise<void>>();
  /** Pools being handed over: their loop is stopping, their lease still renewed until it has. */
  private readonly handing = new Map<string, Promise<void>>();
  private cancel?: () => void;
  private round?: Promise<void>;
  private stopped = false;
  /** A clean stop is under way: renew what is held, take and hand over nothing. */
  private stopping = false;
  /** Why the store could not be reached in the last round (undefined when it could). */
  private storeProblem?: string;

  constructor(private readonly o: LeadershipOptions) {}

  private get renewMs(): number {
    return this.o.renewMs ?? Math.max(100, Math.floor(this.o.leaseMs / 3));
  }

  private get marginMs(): number {
    return this.o.marginMs ?? Math.floor(this.o.leaseMs / 5);
  }

  /** Start the rounds; resolves once the first round ran and the pools it took have started. */
  start(): Promise<void> {
    this.stopped = false;
    return new Promise((resolve) => this.schedule(0, resolve));
  }

  /** Run one round now and wait for the pools it took to start (tests). */
  async runOnce(): Promise<void> {
    await this.round;
    this.round = this.tick();
    await this.round;
    await this.settle();
  }

  /** Every pool start in progress has finished (taken, or given back). */
  async settle(): Promise<void> {
    while (this.starting.size > 0) await Promise.all([...this.starting.values()]);
  }

  /** Leads the pool now (its lease held and still safe to act on). */
  leads(pool: string): boolean {
    const h = this.held.get(pool);
    return h !== undefined && this.o.clock.now() < h.actUntil;
  }

  ledPools(): string[] {
    return [...this.held.keys()].filter((p) => this.leads(p)).sort();
  }

  /** Undefined when the last round reached the store. */
  storeError(): string | undefined {
    return this.storeProblem;
  }

  /**
   * A clean stop: take no new pool, let every led pool's loop stop (an action in flight
   * finishes, under its lease, which the rounds keep renewing meanwhile), then give each lease
   * back so another process takes the pool at once, and leave the member list.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    // A handover under way ends first: its loop's action in flight finishes under its lease.
    await Promise.all([...this.handing.values()]);
    await Promise.all([...this.held].map(async ([pool, h]) => {
      this.o.telemetry.info('handing pool back: gridhost stopping', { pool, holder: this.o.holder, token: h.lease.token });
      await this.o.onLose(pool, 'stopping').catch((e: unknown) => {
        this.o.telemetry.error('stopping a pool we lead failed', { pool, error: wrapError('GH_INTERNAL', e).message });
      });
      this.held.delete(pool);
      await this.o.store.releaseLease(pool, this.o.holder, h.lease.token).catch(() => undefined);
    }));
    this.stopped = true;
    this.cancel?.();
    await this.round;
    await this.o.store.removeMember(this.o.holder).catch(() => undefined);
  }

  private schedule(ms: number, onFirst?: () => void): void {
    if (this.stopped) return onFirst?.();
    this.cancel = this.o.clock.setTimer(ms, () => {
      this.round = this.tick().finally(() => {
        this.schedule(this.renewMs);
        if (onFirst) void this.settle().then(onFirst);
      });
    });
  }

  private makeFence(pool: string, token: number, acquiredAt: number): ActingFence {
    return {
      pool,
      token,
      acquiredAt,
      holder: this.o.holder,
      check: () => {
        const h = this.held.get(pool);
        if (!h || h.lease.token !== token || this.o.clock.now() >= h.actUntil) {
          throw new GridhostError('GH_LEASE_LOST', `pool ${pool}: this gridhost (${this.o.holder}) may no longer act on it with token ${token}`, { pool, token, holder: this.o.holder });
        }
      },
    };
  }

  private async tick(): Promise<void> {
    const { store, holder } = this.o;
    const wanted = new Set(this.o.pools());
    let members: Member[];
    let leases: Map<string, Lease>;
    try {
      await store.heartbeat({ id: holder, ...(this.o.api ? { api: this.o.api } : {}), pools: [...wanted].sort() }, this.o.leaseMs);
      members = await store.listMembers();
      leases = new Map((await store.listLeases()).map((l) => [l.pool, l]));
      if (this.storeProblem !== undefined) this.o.telemetry.info('store reachable again; leases are renewed and taken again', { holder });
      this.storeProblem = undefined;
    } catch (e) {
      const err = wrapError('GH_STORE_FAILED', e);
      if (this.storeProblem === undefined) this.o.telemetry.error('store unreachable: no lease can be renewed, pools stop acting before their leases could expire', { holder, error: err.message });
      this.storeProblem = err.message;
      await this.dropExpired();
      return;
    }
    for (const pool of new Set([...wanted, ...this.held.keys()])) {
      if (this.busy.has(pool) || this.starting.has(pool)) continue;
      this.busy.add(pool);
      try {
        // Candidates: the live members with a policy for the pool (this one included when it has one).
        const candidates = members.filter((m) => m.id !== holder && m.pools.includes(pool)).map((m) => m.id);
        if (wanted.has(pool)) candidates.push(holder);
        await this.consider(pool, wanted.has(pool), candidates, leases.get(pool));
      } catch (e) {
        this.o.telemetry.warn('lease round failed for a pool; retried next round', { pool, holder, error: wrapError('GH_STORE_FAILED', e).message });
      } finally {
        this.busy.delete(pool);
      }
    }
    await this.dropExpired();
  }

  private async consider(pool: string, wanted: boolean, members: readonly string[], lease: Lease | undefined): Promise<void> {
    const { store, holder, clock, leaseMs } = this.o;
    const owner = ownerOf(pool, members);
    const h = this.held.get(pool);
    if (this.stopping && !h) return;
    if (h) {
      if (!this.stopping && (!wanted || owner !== holder) && !this.handing.has(pool)) {
        // Handed over in the background: the loop stops first (its action in flight finishes
        // under this lease, which the rounds keep renewing), then the lease is given back, so the
        // next leader never finds a launch cut short by the handover (issue 16 item 1).
        const handing = this.handOver(pool, h, wanted ? 'handover' : 'unwanted', wanted ? `handed over to ${owner}` : 'no policy for the pool here any more');
        this.handing.set(pool, handing);
        void handing.finally(() => this.handing.delete(pool));
      }
      const asked = clock.now();
      try {
        const renewed = await store.renewLease(pool, holder, h.lease.token, leaseMs);
        h.lease = renewed;
        h.actUntil = asked + leaseMs - this.marginMs;
      } catch (e) {
        if (e instanceof GridhostError && e.code === 'GH_LEASE_LOST') await this.lose(pool, 'lost', e.message);
        else throw e;
      }
      return;
    }
    if (!wanted || owner !== holder) return;
    // The store decides whether the lease is free, on its own clock: a live lease of another is kept.
    void lease;
    const asked = clock.now();
    const got = await store.acquireLease(pool, holder, leaseMs, this.o.apiUrl);
    if (!got) return;
    const held: Held = { lease: got, actUntil: asked + leaseMs - this.marginMs, fence: this.makeFence(pool, got.token, got.acquiredAt) };
    this.held.set(pool, held);
    this.o.telemetry.info('leading pool', { pool, holder, token: got.token });
    // Taking a pool reconciles it first, which may outlast the lease (stopping half-made guests
    // under load, a slow dom0): the start runs beside the rounds (which keep heartbeating and
    // renewing the other pools) and renews this pool's lease itself meanwhile.
    const run = this.startPool(pool, held, got).finally(() => this.starting.delete(pool));
    this.starting.set(pool, run);
  }

  private async startPool(pool: string, held: Held, got: Lease): Promise<void> {
    const { store, holder, clock } = this.o;
    let starting = true;
    let cancel: (() => void) | undefined;
    const renewSoon = () => {
      cancel = clock.setTimer(this.renewMs, () => {
        void this.renewHeld(pool).finally(() => { if (starting) renewSoon(); });
      });
    };
    renewSoon();
    try {
      await this.o.onAcquire(pool, held.fence);
    } catch (e) {
      this.o.telemetry.warn('could not start leading the pool; its lease is given back', { pool, holder, error: wrapError('GH_INTERNAL', e).message });
      await this.lose(pool, 'lost', 'start failed');
      await store.releaseLease(pool, holder, got.token).catch(() => undefined);
    } finally {
      starting = false;
      cancel?.();
    }
  }

  /** Renew a held lease while its pool starts. A lost lease ends acting at once (the next round
   *  finds it lost and stops the pool); a store that cannot be reached lets act-until run out. */
  private async renewHeld(pool: string): Promise<void> {
    const h = this.held.get(pool);
    if (!h) return;
    const asked = this.o.clock.now();
    try {
      h.lease = await this.o.store.renewLease(pool, this.o.holder, h.lease.token, this.o.leaseMs);
      h.actUntil = asked + this.o.leaseMs - this.marginMs;
    } catch (e) {
      if (e instanceof GridhostError && e.code === 'GH_LEASE_LOST') h.actUntil = 0;
    }
  }

  /** Pools whose act-until passed without a renewal stop acting (the store may be down). */
  private async dropExpired(): Promise<void> {
    for (const [pool, h] of [...this.held]) {
      if (this.o.clock.now() >= h.actUntil && !this.busy.has(pool)) await this.lose(pool, 'expired', 'lease could not be renewed in time');
    }
  }

  /** Stop the pool's loop while its lease stays ours, then give the lease back. */
  private async handOver(pool: string, h: Held, why: 'handover' | 'unwanted', detail: string): Promise<void> {
    this.o.telemetry.info('handing pool over: its action in flight finishes first', { pool, holder: this.o.holder, token: h.lease.token, why, detail });
    await this.o.onLose(pool, why).catch((e: unknown) => {
      this.o.telemetry.error('stopping a pool we hand over failed', { pool, error: wrapError('GH_INTERNAL', e).message });
    });
    // Lost meanwhile (expired, or taken): lose() has said so and the lease is not ours to release.
    if (this.held.get(pool) !== h) return;
    this.held.delete(pool);
    this.o.telemetry.warn('no longer leading pool', { pool, holder: this.o.holder, token: h.lease.token, why, detail });
    await this.o.store.releaseLease(pool, this.o.holder, h.lease.token).catch((e: unknown) => {
      this.o.telemetry.warn('could not give a handed-over lease back; it expires instead', { pool, error: wrapError('GH_STORE_FAILED', e).message });
    });
  }

  private async lose(pool: string, why: LoseReason, detail: string): Promise<void> {
    const h = this.held.get(pool);
    if (!h) return;
    this.held.delete(pool);
    this.o.telemetry.warn('no longer leading pool', { pool, holder: this.o.holder, token: h.lease.token, why, detail });
    await this.o.onLose(pool, why).catch((e: unknown) => {
      this.o.telemetry.error('stopping a pool we no longer lead failed', { pool, error: wrapError('GH_INTERNAL', e).message });
    });
  }
}
