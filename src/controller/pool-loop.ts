// One control loop per pool. Ticks never overlap: the next tick is scheduled only when the
// previous one has finished. Acting runs in the background so sampling goes on while guests
// boot or drain. While an action runs no other starts, except that with scale_out.while_booting
// `add` a scale-out may start beside scale-outs whose guests still boot (decide.ts step 1).
//
//            start()                      timer(interval)
//  stopped ─────────► waiting ─────────────────────────────► sampling ──► deciding
//     ▲                  ▲  ▲                                                 │
//     │ stop()           │  └────── hold / breaker open / blocked / busy ─────┤
//     │                  │                                                    │ scale
//     │                  └─ acting (background: launch, retire, cleanup retry) ◄┘
//     └── (stop() waits for acting to finish)
//
// Auto-heal runs beside it (healer.ts): every tick the serving guests are inspected first, sick
// ones taken out of rotation, and their replacements started in the background (capped per
// pool, held while the breaker is open, the pool is paused or blocked, or an operator's action
// runs); they are not scale actions, and a sick guest holds no decision: until its replacement
// exists decisions count it as capacity coming, then the replacement on its way up counts (and
// is in flight, as any guest booting). With auto-heal off a sick guest (its process or domain gone) is retired
// without a replacement, and the pool's rules decide whether another is launched.
//
// Operators steer the pool through its record (PoolControl: paused, or a size by hand), read
// every tick, and through actions that run alone in the action slot (OperatorQueue). What a
// tick does with its decision is planTick's (tick-plan.ts); every evaluation goes to the
// decision journal (why it did or did not scale).
//
// The loop's parts: tick-scheduler.ts (when ticks run), pool-sampler.ts (a tick's sample),
// pool-record.ts (the record taken over and written), pool-actions.ts (what runs in the
// background), heal-starts.ts (auto-heal's replacements this tick), blocked-watch.ts and
// signal-expiry.ts (said once per change), pool-status.ts (what the API shows),
// pool-loop-deps.ts (what a loop is given).
import type { Decision, PoolControl } from '../domain/types.ts';
import { desiredSize, GUEST_STATE_FACTS, LIVE_STATES, scaleEventOf } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { PoolRecord } from '../store/store.ts';
import type { ActingFence } from './acting-fence.ts';
import type { Recommendation } from '../decision/decide-types.ts';
import { emptyMemory, remember, tick as tickMemory, type MemoryEvent, type PoolMemory } from '../decision/pool-memory.ts';
import { servedSignals } from '../decision/signal-book.ts';
import { closedHostsOf } from '../decision/evacuation-plan.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import { LaunchGuard } from './launch-guard.ts';
import { DecisionJournal, evaluationOf } from './decision-journal.ts';
import { planTick, type TickPlan } from './tick-plan.ts';
import { poolGaugeReport } from './pool-gauges.ts';
import { OperatorQueue, type OperatorOp } from './operator-queue.ts';
import { RecommendationPublisher } from './recommendation.ts';
import { RuleQueries } from './rule-queries.ts';
import type { PoolRollout } from './rollout.ts';
import { WarmPool } from './warm-pool.ts';
import { poolBlockedError, type LoopState, type PoolStatus } from './pool-status.ts';
import { TickScheduler } from './tick-scheduler.ts';
import { PoolSampler } from './pool-sampler.ts';
import { PoolRecordWriter, takenOverMemory } from './pool-record.ts';
import { PoolActions } from './pool-actions.ts';
import type { PoolLoopDeps } from './pool-loop-deps.ts';
import { HealStarts } from './heal-starts.ts';
import { BlockedWatch } from './blocked-watch.ts';
import { SignalExpiry } from './signal-expiry.ts';

export class PoolLoop {
  private state: LoopState = 'stopped';
  private readonly ticks: TickScheduler;
  private readonly actions: PoolActions;
  private readonly sampler: PoolSampler;
  /** What decisions depend on between ticks (samples, recommendations, cooldowns, actions in
   *  flight): the decision core's pure reducer, shared with the simulator. */
  private memory: PoolMemory = emptyMemory();
  /** Cooldowns are taken from the store's pool record once, so a restart keeps them. */
  private restored = false;
  private readonly writer: PoolRecordWriter;
  private readonly guard: LaunchGuard;
  private lastDecision?: Decision;
  private readonly blocked: BlockedWatch;
  private readonly heal?: HealStarts;
  private control?: PoolControl;
  private readonly ops: OperatorQueue;
  /** Every evaluation of the last hour, with why it held (explain, the dashboard). */
  readonly journal = new DecisionJournal();
  /** mode: recommend publishes each change of the decision once (recommendation.ts). */
  private readonly recommender: RecommendationPublisher;
  private readonly expiry: SignalExpiry;
  /** Guests kept made and paused (policy warm_pool); refilled beside the loop's actions. */
  private readonly warm?: WarmPool;

  constructor(private policy: Policy, private readonly d: PoolLoopDeps) {
    this.guard = new LaunchGuard(policy.pool, d.telemetry);
    this.ops = new OperatorQueue(policy.pool);
    this.recommender = new RecommendationPublisher(policy.pool, d);
    this.ticks = new TickScheduler(d.clock, () => this.tick(), () => this.policy.sampling.intervalMs, (running) => {
      this.state = running ? 'waiting' : 'stopped';
    });
    this.actions = new PoolActions(policy.pool, {
      ...d, guard: this.guard, ops: this.ops,
      memory: () => this.memory, remember: (p, e, now) => this.remember(p, e, now),
      persist: (p, now, desired) => this.persist(p, now, desired), poke: () => this.poke(),
      isStopped: () => this.isStopped(), recordLaunches: (n, errors) => this.recordLaunches(n, errors),
    });
    this.sampler = new PoolSampler(policy.pool, {
      ...d, queries: new RuleQueries(policy.pool, d.telemetry, d.poolQuery), policy: () => this.policy,
    });
    this.writer = new PoolRecordWriter(d.store, d.fence);
    this.blocked = new BlockedWatch(d.telemetry, d.blockedBy);
    this.expiry = new SignalExpiry(d.telemetry);
    if (d.healer) {
      this.heal = new HealStarts({
        healer: d.healer, telemetry: d.telemetry, clock: d.clock, guard: this.guard, ...(d.fence ? { fence: d.fence } : {}),
        memory: () => this.memory, remember: (p, e, now) => this.remember(p, e, now),
      });
    }
    if (d.lifecycle) {
      this.warm = new WarmPool(policy.pool, {
        lifecycle: d.lifecycle, telemetry: d.telemetry, ...(d.fence ? { fence: d.fence } : {}),
        recordLaunches: (n, errors) => this.recordLaunches(n, errors),
      });
    }
  }

  get pool(): string {
    return this.policy.pool;
  }

  /** A changed policy applies from the next tick; samples and breaker state carry over. */
  updatePolicy(p: Policy): void {
    this.policy = p;
  }

  start(): void {
    if (this.ticks.isRunning()) return;
    this.state = 'waiting';
    this.ticks.start();
  }

  /** Stop ticking and wait for a running tick and action to finish. Guests are left alone. */
  async stop(): Promise<void> {
    this.ticks.stop();
    this.state = 'stopped';
    // Operator actions still waiting for the action slot will never get it.
    this.ops.failAll();
    await this.ticks.current();
    await this.allActions();
  }

  /** Resolves when the current background action (if any) has finished; for tests and shutdown. */
  async idle(): Promise<void> {
    await this.ticks.current();
    await this.allActions();
  }

  /** Waits for every running action, including ones started while waiting. */
  private async allActions(): Promise<void> {
    while (this.actions.size > 0 || this.warm?.busy()) {
      await this.actions.settled();
      await this.warm?.idle();
    }
    await this.d.healer?.idle();
  }

  private remember(policy: Policy, e: MemoryEvent, now: number): void {
    this.memory = remember(policy, this.memory, e, now);
  }

  status(): PoolStatus {
    const now = this.d.clock.now();
    const lastLaunchError = this.guard.lastLaunchError();
    return {
      pool: this.pool,
      state: this.state,
      acting: this.actions.size > 0,
      policy: this.policy,
      lastDecision: this.lastDecision,
      samples: this.sampler.recent,
      breaker: this.guard.view(this.policy, now),
      ...(this.blocked.current ? { blocked: { ...this.blocked.current } } : {}),
      ...(this.control ? { control: this.control } : {}),
      ...(lastLaunchError ? { lastLaunchError } : {}),
      ...(this.d.rollout ? { rollout: this.d.rollout.status(this.policy) } : {}),
      ...(this.journal.latest()?.hold ? { lastHold: this.journal.latest()!.hold! } : {}),
      ...(this.d.evacuation ? { evacuation: this.d.evacuation.status() } : {}),
    };
  }

  /** Start replacing the pool's outdated guests (an operator's request); poked to begin at once. */
  async startRollout(by: string, reason: string): ReturnType<PoolRollout['start']> {
    if (!this.d.rollout) throw new GridhostError('GH_INTERNAL', `pool ${this.pool} has no rollout configured`);
    const guests = this.sampler.withoutLost(await this.d.store.listGuests({ pool: this.pool, states: LIVE_STATES }));
    const r = await this.d.rollout.start(this.policy, guests, by, reason);
    this.poke();
    return r;
  }

  /** Evaluate now instead of at the next interval (after an operator changed the pool). */
  poke(): void {
    this.ticks.poke();
  }

  /**
   * Run an operator's action alone in the pool's action slot: once gridhost's own actions have
   * finished (none start meanwhile) and before the next decision. Settles as the action does.
   */
  enqueue(op: OperatorOp): Promise<void> {
    if (!this.ticks.isRunning()) return Promise.reject(this.ops.stopping());
    const done = this.ops.add(op);
    this.poke();
    return done;
  }

  /** Close the launch circuit breaker (an operator fixed the cause). Returns its mode before. */
  resetBreaker(): 'closed' | 'open' | 'half-open' {
    return this.guard.reset(this.policy, this.d.clock.now());
  }

  /** Count launches an operator's action made towards the breaker, as the loop's own are. */
  recordLaunches(launched: number, errors: readonly GridhostError[]): void {
    this.guard.note(this.policy, launched, errors, `${errors.length} launch(es) failed`, this.d.clock.now());
  }

  recommendationsView(): readonly Recommendation[] {
    return this.memory.recommendations;
  }

  /** The pool's memory as the decision core sees it (plain data). */
  memoryView(): PoolMemory {
    return this.memory;
  }

  /** The fence this loop acts under (undefined outside leadership). */
  fence(): ActingFence | undefined {
    return this.d.fence;
  }

  private isStopped(): boolean {
    return !this.ticks.isRunning();
  }

  /** One evaluation: sample, decide, maybe start acting. Never throws. */
  async tick(): Promise<void> {
    const policy = this.policy;
    try {
      this.state = 'sampling';
      const now = this.d.clock.now();
      const listed = this.sampler.withoutLost(await this.d.store.listGuests({ pool: policy.pool, states: LIVE_STATES }));
      const guests = this.d.healer ? (await this.d.healer.inspect(policy, listed, this.d.fence)).guests : listed;
      const sample = await this.sampler.sample(guests, now, policy);

      this.state = 'deciding';
      // The operator's control lives in the store's pool record: read it every tick, so a pause
      // or a manual size set through any gridhost process applies at once.
      const rec = await this.d.store.getPool(policy.pool);
      if (!this.restored) {
        this.restore(policy, rec, now);
        this.restored = true;
      } else if (rec) {
        this.writer.record = rec;
      }
      this.control = rec?.control;
      this.expiry.report(policy, rec?.signals, now);
      // Signals (strategy: signal rules) are read from the record too: any process may have accepted one.
      const { memory, result } = tickMemory(policy, this.memory, guests, sample, now, undefined, rec?.signals);
      this.memory = memory;
      const decision = result.decision;
      this.lastDecision = decision;
      this.guard.tick(policy, now);
      // A pool whose balancer cannot register guests launches none (nobody could reach them)
      // and retires none (the balancer may still send it traffic gridhost cannot stop); an
      // operator's action waits too, and one already waiting is answered now.
      const blocked = this.blocked.note(policy.pool, now);
      if (blocked && this.ops.pending > 0) this.ops.failAll(poolBlockedError(policy.pool, this.blocked.current!));
      const idle = this.actions.size === 0;
      // An operator's action waits until no action runs, then goes alone before any decision.
      const op = idle && !this.isStopped() && !blocked ? this.ops.take() : undefined;
      // Not while the warm pool makes guests: they are `warming`, which a reconciliation undoes.
      const reconcile = !op && !blocked && idle && !this.warm?.busy() && !this.isStopped() && this.actions.reconcileNow(now);
      const beforeStart = this.memory;
      // Replacements of sick guests are remembered now (so no scale action starts beside them
      // this tick: mayStart reads the memory) and started once the record is written.
      // A recommending pool (mode: recommend) replaces no sick guest either: it launches and retires nothing.
      const recommend = policy.mode === 'recommend';
      const mayHeal = !blocked && !this.isStopped() && !op && !this.ops.running && this.control?.mode !== 'paused' && !recommend;
      const heals = mayHeal && this.heal ? this.heal.plan(policy, guests, decision.from, now) : [];
      const plan: TickPlan = op || reconcile || (!blocked && this.ops.pending > 0) ? { kind: 'hold', hold: { cause: 'busy' } } : planTick({
        decision,
        ...(this.blocked.current ? { blocked: this.blocked.current } : {}),
        ...(result.hold ? { hold: result.hold } : {}),
        ...(this.control ? { control: this.control } : {}),
        guests,
        idle,
        recommend,
        mayStart: (d) => !this.isStopped() && this.actions.mayStart(d, policy),
        breaker: this.guard.openFor(policy, now),
      });
      const counted = guests.filter((g) => GUEST_STATE_FACTS[g.state].counted).length;
      // A pool paused, or recommending, keeps the size it has.
      const desired = plan.kind === 'act' ? plan.decision.to : this.control?.mode === 'manual' ? this.control.desired : this.control || recommend ? counted : desiredSize(decision);
      this.d.telemetry.poolGauges(poolGaugeReport(policy, guests, decision, desired, this.control?.mode ?? 'auto', result.hold, this.memory.changes, now, sample.hosts));
      this.journal.record(evaluationOf(policy, result, plan, this.control, guests, now));

      const acting = plan.kind === 'act' ? plan.decision : undefined;
      const actionId = acting ? `${acting.action}@${acting.at}` : '';
      if (acting) this.remember(policy, { kind: 'started', id: actionId, decision: acting }, now);
      // What the next decision depends on is in the store before anything is done: a gridhost
      // that takes over (restart, another process) decides from exactly this. A pool whose
      // record cannot be written does not act (an action it cannot record, it cannot repair).
      // The signals this action serves are marked served in the same write, before it starts: a
      // restart, or another leader, never serves them again.
      const served = servedSignals(acting, result.signals);
      try {
        await this.persist(policy, now, undefined, served.length > 0 ? { keys: served, by: acting!.reason } : undefined);
      } catch (e) {
        this.memory = beforeStart;
        throw e;
      }
      for (const start of heals) start();
      // The warm pool is kept beside scale actions (a refill never holds a scale-out), but not
      // beside a reconciliation, a cleanup retry or an operator's action, nor while the pool is
      // paused, recommending, blocked or its breaker open. Warm guests on closed hosts (drain-host)
      // are retired there, so the host empties (read only when the pool has warm guests).
      const closed = this.warm && guests.some((g) => g.state === 'warm' || g.state === 'warming') ? closedHostsOf(await this.d.store.listHosts()) : new Set<string>();
      this.warm?.tick(policy, guests, !this.isStopped() && !op && !reconcile && !blocked && !this.actions.exclusive && !this.ops.running && this.ops.pending === 0
        && this.control?.mode !== 'paused' && !recommend && this.guard.openFor(policy, now).openForMs === 0, new Set(this.d.rollout?.outdatedWarm(guests) ?? []), closed);
      // mode: recommend publishes what the policy would do, each change once (the file's next
      // version may say act: that applies from its first tick, and a later recommend anew).
      if (recommend) await this.recommender.publish(decision, this.d.fence);
      else this.recommender.reset();
      if (op) return this.actions.startOperatorOp(op, policy);
      if (reconcile) return this.actions.startReconcile(now);
      // A rollout's next batch: only on a tick with no scale action to start and nothing else
      // running or waiting, so scaling decisions go on between batches (rollout.ts).
      const mayRoll = idle && !blocked && !this.isStopped() && plan.kind === 'hold' && this.control?.mode !== 'paused' && !recommend
        && heals.length === 0 && this.memory.replacing.length === 0 && this.ops.pending === 0 && this.guard.openFor(policy, now).openForMs === 0;
      // Guests leaving a closed host (drain-host) move the same way, after the rollout's turn.
      if (await this.actions.replacementBatch('rollout', this.d.rollout, policy, guests, rec, mayRoll)) return;
      if (await this.actions.replacementBatch('evacuation', this.d.evacuation, policy, guests, rec, mayRoll)) return;
      // Not beside the warm pool's own retirements: a warm guest it is stopping is not a failed cleanup.
      if (plan.kind === 'retry-stopping') return this.warm?.busy() ? undefined : this.actions.retryStopping(guests, policy, now);
      if (plan.kind === 'hold') {
        if (plan.hold?.cause === 'blocked') {
          if (plan.wanted && idle && !this.isStopped() && this.blocked.firstSkipOf(plan.hold.since)) {
            this.d.telemetry.scaleEvent(scaleEventOf(plan.wanted, 'skipped', `pool blocked: ${plan.hold.message}`));
          }
        } else if (plan.hold?.cause === 'breaker' && plan.wanted && this.guard.firstSkipOfPeriod()) {
          // A scale-out the open breaker held back: reported once per open period, not every tick.
          this.d.telemetry.scaleEvent(scaleEventOf(plan.wanted, 'skipped', `circuit breaker open for another ${Math.ceil(plan.hold.remainingMs / 1000)}s`));
        }
        return;
      }
      this.actions.startActing(plan.decision, policy, actionId, now, plan.by);
    } catch (e) {
      const err = wrapError('GH_INTERNAL', e);
      // evaluationError logs it (one error line) and counts it.
      this.d.telemetry.evaluationError(policy.pool, err);
    }
  }

  /** Take up what the pool's record says an earlier holder knew: its memory (pool-record.ts),
   *  breaker and last decision. */
  private restore(policy: Policy, rec: PoolRecord | undefined, now: number): void {
    if (rec) this.writer.record = rec;
    this.memory = takenOverMemory(policy, rec, this.memory, now);
    if (rec?.breaker) this.guard.restore(rec.breaker);
    if (rec?.lastDecision) this.lastDecision = rec.lastDecision;
  }

  private persist(policy: Policy, now: number, desired?: number, served?: { keys: string[]; by: string }): Promise<void> {
    return this.writer.save(policy, now, () => ({ memory: this.memory, breaker: this.guard.state(), ...(this.lastDecision ? { lastDecision: this.lastDecision } : {}) }), desired, served);
  }
}
