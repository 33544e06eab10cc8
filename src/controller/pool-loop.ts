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
import type { Decision, Guest, HostSample, PoolControl, PoolSample, ScaleDecision } from '../domain/types.ts';
import { desiredSize, GUEST_STATE_FACTS, LIVE_STATES, scaleEventOf } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { PoolRecord, Store } from '../store/store.ts';
import { fenceData, type ActingFence } from './acting-fence.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import type { PoolQuery } from '../drivers/prometheus/pool-query.ts';
import type { Recommendation } from '../decision/decide-types.ts';
import { emptyMemory, mayStartAction, remember, tick as tickMemory, type PoolMemory } from '../decision/pool-memory.ts';
import { planReplacements } from '../decision/auto-heal.ts';
import { servedSignals, serveSignals, type SignalBook } from '../decision/signal-book.ts';
import { GridhostError, wrapError } from '../errors/errors.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import { MetricAbsence } from './metric-absence.ts';
import type { Actuator, ActOutcome } from './actuator.ts';
import type { Healer, ReplaceResult } from './healer.ts';
import { LaunchGuard, type LaunchError } from './launch-guard.ts';
import { DecisionJournal, evaluationOf, type EvaluationHold } from './decision-journal.ts';
import { planTick, type TickPlan } from './tick-plan.ts';
import { poolGaugeReport } from './pool-gauges.ts';
import { OperatorQueue, type OperatorOp } from './operator-queue.ts';
import { RecommendationPublisher } from './recommendation.ts';
import { RuleQueries } from './rule-queries.ts';
import type { BatchHooks, PoolRollout, RolloutStatus } from './rollout.ts';
import type { EvacuationStatus, PoolEvacuation } from './evacuation.ts';
import type { GuestLifecycle } from './guest-lifecycle.ts';
import { WarmPool } from './warm-pool.ts';

export type LoopState = 'stopped' | 'waiting' | 'sampling' | 'deciding';

export interface PoolLoopDeps {
  store: Store;
  metrics: MetricsSource;
  /** Answers rules with `source: prometheus`; absent = their metric is always missing. */
  poolQuery?: PoolQuery;
  actuator: Actuator;
  clock: Clock;
  telemetry: Telemetry;
  /** Guests on a host that stopped answering: left out of the pool's size so it is rebuilt elsewhere. */
  isLost?: (g: Guest) => boolean;
  /** Why the pool's balancer cannot register or drain guests now (Balancer.blocked); undefined = it can. */
  blockedBy?: (pool: string) => GridhostError | undefined;
  /** Auto-heal; without it sick guests go unnoticed (unit tests of other behaviour). */
  healer?: Healer;
  /** The pool's lease, when this loop runs as its leader (see leadership.ts): every store write
   *  and driver action carries it. */
  fence?: ActingFence;
  /** Reconcile the pool (reconciler.ts); run in the loop's action slot, so never beside an
   *  action of its own, every reconcileEveryMs and after an action that met a driver error. */
  reconcile?: () => Promise<void>;
  /** Default 5 minutes. */
  reconcileEveryMs?: number;
  /** Replaces guests made from another template or base image (rollout.ts); absent: no rollouts. */
  rollout?: PoolRollout;
  /** Makes and trims the warm pool's guests (policy warm_pool, warm-pool.ts); absent: no warm pool. */
  lifecycle?: GuestLifecycle;
  /** The pool's hosts now (Hypervisor.hostFacts), asked each tick of a policy with contention. */
  hostFacts?: () => Promise<HostSample[] | undefined>;
  /** Moves guests off hosts an operator closed (evacuation.ts); absent: none. */
  evacuation?: PoolEvacuation;
}

export const DEFAULT_RECONCILE_EVERY_MS = 5 * 60_000;

/** What the API shows about a pool. */
export interface PoolStatus {
  pool: string;
  state: LoopState;
  acting: boolean;
  policy: Policy;
  lastDecision?: Decision;
  samples: readonly PoolSample[];
  breaker: { mode: 'closed' | 'open' | 'half-open'; consecutiveFailures: number; remainingMs: number };
  /** Set while the balancer cannot take the pool's guests: no guest is launched or retired. */
  blocked?: { code: string; message: string; since: number };
  /** The operator's control as last read from the store (absent: the policy decides). */
  control?: PoolControl;
  /** The last launch failure since the last successful launch: what blocks a growing pool. */
  lastLaunchError?: LaunchError;
  /** Outdated guests and the rollout replacing them (rollout.ts). */
  rollout?: RolloutStatus;
  /** Why the last evaluation held (absent when it acted). */
  lastHold?: EvaluationHold;
  /** Guests on closed hosts and their move (evacuation.ts). */
  evacuation?: EvacuationStatus;
}

/** What an operator's action on a blocked pool is told (the balancer's own code in details). */
export function poolBlockedError(pool: string, b: { code: string; message: string; since: number }): GridhostError {
  return new GridhostError('GH_POOL_BLOCKED', `pool ${pool} is blocked since ${new Date(b.since).toISOString()}: ${b.message} (${b.code}); nothing is launched or retired until the balancer can take guests again`, { pool, cause: b.code });
}

/** How often a guest left `stopping` by a failed cleanup is tried again. Until it is gone the
 *  actuator refuses every decision for the pool (a change is in flight), so it must not wait
 *  for the next restart's reconciler. */
export const STOPPING_RETRY_MS = 30_000;

/** Raw samples kept for the API's view of a pool. */
const RECENT_SAMPLES = 20;

export class PoolLoop {
  private state: LoopState = 'stopped';
  /** Separate from `state`, which a tick in progress overwrites. */
  private running = false;
  private cancelTimer?: () => void;
  /** Actions running in the background (scale actions, cleanup retries, reconciliations). */
  private readonly acting = new Set<Promise<void>>();
  /** Whether a cleanup retry or a reconciliation is among them (nothing may start beside one). */
  private retrying = false;
  /** The latest raw samples, for the API only (decisions read the memory's reduced ticks). */
  private recentSamples: PoolSample[] = [];
  /** What decisions depend on between ticks (samples, recommendations, cooldowns, actions in
   *  flight): the decision core's pure reducer, shared with the simulator. */
  private memory: PoolMemory = emptyMemory();
  /** Cooldowns are taken from the store's pool record once, so a restart keeps them. */
  private restored = false;
  /** The pool's record as last written or read (its version is the next compare-and-set's). */
  private record?: PoolRecord;
  private persisting: Promise<void> = Promise.resolve();
  /** A driver error asked for a reconciliation at the next free tick. */
  private reconcileDue = false;
  private reconciledAt?: number;
  private readonly guard: LaunchGuard;
  private lastDecision?: Decision;
  private tickRunning?: Promise<void>;
  private lostReported = '';
  /** One warn line per rule whose metric no guest reports (metric-absence.ts). */
  private readonly absence = new MetricAbsence();
  private stoppingRetriedAt?: number;
  private blocked?: { code: string; message: string; since: number };
  private blockedSkipReportedAt?: number;
  /** The last "sick guests wait" line, so it is said once per change. */
  private healWaitReported = '';
  private control?: PoolControl;
  private readonly ops: OperatorQueue;
  /** Every evaluation of the last hour, with why it held (explain, the dashboard). */
  readonly journal = new DecisionJournal();
  /** A tick was asked for while one was running: run the next one right after it. */
  private poked = false;
  /** mode: recommend publishes each change of the decision once (recommendation.ts). */
  private readonly recommender: RecommendationPublisher;
  /** When the record's signals were last looked at for expiries. */
  private signalsCheckedAt?: number;
  /** The values of the policy's source: prometheus rules (rule-queries.ts). */
  private readonly queries: RuleQueries;
  /** Guests kept made and paused (policy warm_pool); refilled beside the loop's actions. */
  private readonly warm?: WarmPool;

  constructor(private policy: Policy, private readonly d: PoolLoopDeps) {
    this.guard = new LaunchGuard(policy.pool, d.telemetry);
    this.ops = new OperatorQueue(policy.pool);
    this.recommender = new RecommendationPublisher(policy.pool, d);
    this.queries = new RuleQueries(policy.pool, d.telemetry, d.poolQuery);
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
    if (this.running) return;
    this.running = true;
    this.state = 'waiting';
    this.schedule(0);
  }

  /** Stop ticking and wait for a running tick and action to finish. Guests are left alone. */
  async stop(): Promise<void> {
    this.running = false;
    this.state = 'stopped';
    this.cancelTimer?.();
    // Operator actions still waiting for the action slot will never get it.
    this.ops.failAll();
    await this.tickRunning;
    await this.allActions();
  }

  /** Resolves when the current background action (if any) has finished; for tests and shutdown. */
  async idle(): Promise<void> {
    await this.tickRunning;
    await this.allActions();
  }

  /** Waits for every running action, including ones started while waiting. */
  private async allActions(): Promise<void> {
    while (this.acting.size > 0 || this.warm?.busy()) {
      await Promise.allSettled([...this.acting]);
      await this.warm?.idle();
    }
    await this.d.healer?.idle();
  }

  /** Runs `work` in the background as one of the pool's actions. */
  private background(work: () => Promise<void>): void {
    const p: Promise<void> = work().finally(() => this.acting.delete(p));
    this.acting.add(p);
  }

  /** May `decision` start now, given the actions already running? (Nothing starts beside a cleanup retry.) */
  private mayStart(decision: Decision, policy: Policy): boolean {
    if (this.acting.size === 0) return true;
    // An operator's action runs alone.
    if (this.ops.running) return false;
    return !this.retrying && mayStartAction(policy, this.memory, decision);
  }

  status(): PoolStatus {
    const now = this.d.clock.now();
    const lastLaunchError = this.guard.lastLaunchError();
    return {
      pool: this.pool,
      state: this.state,
      acting: this.acting.size > 0,
      policy: this.policy,
      lastDecision: this.lastDecision,
      samples: this.recentSamples,
      breaker: this.guard.view(this.policy, now),
      ...(this.blocked ? { blocked: { ...this.blocked } } : {}),
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
    const guests = this.withoutLost(await this.d.store.listGuests({ pool: this.pool, states: LIVE_STATES }));
    const r = await this.d.rollout.start(this.policy, guests, by, reason);
    this.poke();
    return r;
  }

  /** Evaluate now instead of at the next interval (after an operator changed the pool). */
  poke(): void {
    if (!this.running) return;
    if (this.tickRunning) {
      this.poked = true;
      return;
    }
    this.cancelTimer?.();
    this.schedule(0);
  }

  /**
   * Run an operator's action alone in the pool's action slot: once gridhost's own actions have
   * finished (none start meanwhile) and before the next decision. Settles as the action does.
   */
  enqueue(op: OperatorOp): Promise<void> {
    if (!this.running) return Promise.reject(this.ops.stopping());
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

  /** A method, not a field read, because stop() can run while a tick awaits. */
  private isStopped(): boolean {
    return !this.running;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.cancelTimer = this.d.clock.setTimer(ms, () => {
      const started = this.d.clock.now();
      this.tickRunning = this.tick().finally(() => {
        this.tickRunning = undefined;
        if (this.running) {
          this.state = 'waiting';
          const poked = this.poked;
          this.poked = false;
          // Keep the sampling cadence: a slow tick shortens the wait, never overlaps.
          this.schedule(poked ? 0 : Math.max(0, this.policy.sampling.intervalMs - (this.d.clock.now() - started)));
        } else {
          this.state = 'stopped';
        }
      });
    });
  }

  /** One evaluation: sample, decide, maybe start acting. Never throws. */
  async tick(): Promise<void> {
    const policy = this.policy;
    try {
      this.state = 'sampling';
      const now = this.d.clock.now();
      const listed = this.withoutLost(await this.d.store.listGuests({ pool: policy.pool, states: LIVE_STATES }));
      const guests = this.d.healer ? (await this.d.healer.inspect(policy, listed, this.d.fence)).guests : listed;
      const sample = await this.sample(guests, now, policy);
      this.recentSamples = [...this.recentSamples.slice(-(RECENT_SAMPLES - 1)), sample];

      this.state = 'deciding';
      // The operator's control lives in the store's pool record: read it every tick, so a pause
      // or a manual size set through any gridhost process applies at once.
      const rec = await this.d.store.getPool(policy.pool);
      if (!this.restored) {
        this.restore(policy, rec, now);
        this.restored = true;
      } else if (rec) {
        this.record = rec;
      }
      this.control = rec?.control;
      this.reportExpiredSignals(policy, rec?.signals, now);
      // Signals (strategy: signal rules) are read from the record too: any process may have accepted one.
      const { memory, result } = tickMemory(policy, this.memory, guests, sample, now, undefined, rec?.signals);
      this.memory = memory;
      const decision = result.decision;
      this.lastDecision = decision;
      this.guard.tick(policy, now);
      // A pool whose balancer cannot register guests launches none (nobody could reach them)
      // and retires none (the balancer may still send it traffic gridhost cannot stop); an
      // operator's action waits too, and one already waiting is answered now.
      const blocked = this.noteBlocked(policy.pool, now);
      if (blocked && this.ops.pending > 0) this.ops.failAll(poolBlockedError(policy.pool, this.blocked!));
      const idle = this.acting.size === 0;
      // An operator's action waits until no action runs, then goes alone before any decision.
      const op = idle && !this.isStopped() && !blocked ? this.ops.take() : undefined;
      // Not while the warm pool makes guests: they are `warming`, which a reconciliation undoes.
      const reconcile = !op && !blocked && idle && !this.warm?.busy() && !this.isStopped() && this.reconcileNow(now);
      const beforeStart = this.memory;
      // Replacements of sick guests are remembered now (so no scale action starts beside them
      // this tick: mayStart reads the memory) and started once the record is written.
      // A recommending pool (mode: recommend) replaces no sick guest either: it launches and retires nothing.
      const recommend = policy.mode === 'recommend';
      const mayHeal = !blocked && !this.isStopped() && !op && !this.ops.running && this.control?.mode !== 'paused' && !recommend;
      const heals = mayHeal ? this.planHeal(policy, guests, decision.from, now) : [];
      const plan: TickPlan = op || reconcile || (!blocked && this.ops.pending > 0) ? { kind: 'hold', hold: { cause: 'busy' } } : planTick({
        decision,
        ...(this.blocked ? { blocked: this.blocked } : {}),
        ...(result.hold ? { hold: result.hold } : {}),
        ...(this.control ? { control: this.control } : {}),
        guests,
        idle,
        recommend,
        mayStart: (d) => !this.isStopped() && this.mayStart(d, policy),
        breaker: this.guard.openFor(policy, now),
      });
      const counted = guests.filter((g) => GUEST_STATE_FACTS[g.state].counted).length;
      // A pool paused, or recommending, keeps the size it has.
      const desired = plan.kind === 'act' ? plan.decision.to : this.control?.mode === 'manual' ? this.control.desired : this.control || recommend ? counted : desiredSize(decision);
      this.d.telemetry.poolGauges(poolGaugeReport(policy, guests, decision, desired, this.control?.mode ?? 'auto', result.hold, this.memory.changes, now, sample.hosts));
      this.journal.record(evaluationOf(policy, result, plan, this.control, guests, now));

      const acting = plan.kind === 'act' ? plan.decision : undefined;
      const actionId = acting ? `${acting.action}@${acting.at}` : '';
      if (acting) this.memory = remember(policy, this.memory, { kind: 'started', id: actionId, decision: acting }, now);
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
      // paused, recommending, blocked or its breaker open.
      this.warm?.tick(policy, guests, !this.isStopped() && !op && !reconcile && !blocked && !this.retrying && !this.ops.running && this.ops.pending === 0
        && this.control?.mode !== 'paused' && !recommend && this.guard.openFor(policy, now).openForMs === 0, new Set(this.d.rollout?.outdatedWarm(guests) ?? []));
      // mode: recommend publishes what the policy would do, each change once (the file's next
      // version may say act: that applies from its first tick, and a later recommend anew).
      if (recommend) await this.recommender.publish(decision, this.d.fence);
      else this.recommender.reset();
      if (op) return this.startOperatorOp(op, policy);
      if (reconcile) return this.startReconcile(now);
      // A rollout's next batch: only on a tick with no scale action to start and nothing else
      // running or waiting, so scaling decisions go on between batches (rollout.ts).
      const mayRoll = idle && !blocked && !this.isStopped() && plan.kind === 'hold' && this.control?.mode !== 'paused' && !recommend
        && heals.length === 0 && this.memory.replacing.length === 0 && this.ops.pending === 0 && this.guard.openFor(policy, now).openForMs === 0;
      // Guests leaving a closed host (drain-host) move the same way, after the rollout's turn.
      if (await this.replacementBatch('rollout', this.d.rollout, policy, guests, rec, mayRoll)) return;
      if (await this.replacementBatch('evacuation', this.d.evacuation, policy, guests, rec, mayRoll)) return;
      if (plan.kind === 'retry-stopping') {
        if (this.stoppingRetriedAt === undefined || now - this.stoppingRetriedAt >= STOPPING_RETRY_MS) {
          this.stoppingRetriedAt = now;
          this.startRetryStopping(guests, policy);
        }
        return;
      }
      if (plan.kind === 'hold') {
        if (plan.hold?.cause === 'blocked') {
          if (plan.wanted && idle && !this.isStopped() && this.blockedSkipReportedAt !== plan.hold.since) {
            this.blockedSkipReportedAt = plan.hold.since;
            this.d.telemetry.scaleEvent(scaleEventOf(plan.wanted, 'skipped', `pool blocked: ${plan.hold.message}`));
          }
        } else if (plan.hold?.cause === 'breaker' && plan.wanted && this.guard.firstSkipOfPeriod()) {
          // A scale-out the open breaker held back: reported once per open period, not every tick.
          this.d.telemetry.scaleEvent(scaleEventOf(plan.wanted, 'skipped', `circuit breaker open for another ${Math.ceil(plan.hold.remainingMs / 1000)}s`));
        }
        return;
      }
      this.startActing(plan.decision, policy, actionId, now, plan.by);
    } catch (e) {
      const err = wrapError('GH_INTERNAL', e);
      // evaluationError logs it (one error line) and counts it.
      this.d.telemetry.evaluationError(policy.pool, err);
    }
  }

  /** Says once, as a warning, that a signal expired unserved since the last tick (the pool at max,
   *  paused, recommending, ...). Expiries while no process ran go unsaid: the API lists them. */
  private reportExpiredSignals(policy: Policy, book: SignalBook | undefined, now: number): void {
    const since = this.signalsCheckedAt;
    this.signalsCheckedAt = now;
    if (since === undefined || book === undefined) return;
    for (const e of book.entries) {
      const rule = policy.signalRules?.find((r) => r.name === e.rule);
      if (rule === undefined || e.servedAt !== undefined) continue;
      const end = e.at + rule.expiresMs;
      if (end > since && end <= now) this.d.telemetry.warn('signal expired without being served', { pool: policy.pool, event: 'signal', rule: e.rule, key: e.key, from: e.from, expires: `${rule.expiresMs / 1000}s` });
    }
  }

  /** Follows the balancer's blocked() and reports each change once. True while blocked. */
  private noteBlocked(pool: string, now: number): boolean {
    const e = this.d.blockedBy?.(pool);
    if (e === undefined) {
      if (this.blocked) {
        this.blocked = undefined;
        this.d.telemetry.poolBlocked(pool, undefined);
      }
      return false;
    }
    if (this.blocked?.code !== e.code || this.blocked.message !== e.message) {
      this.blocked = { code: e.code, message: e.message, since: now };
      this.d.telemetry.poolBlocked(pool, { code: e.code, message: e.message });
    }
    return true;
  }

  /** Is a reconciliation due (every reconcileEveryMs, or after an action met a driver error)? */
  private reconcileNow(now: number): boolean {
    if (!this.d.reconcile) return false;
    const due = this.reconcileDue || now - (this.reconciledAt ?? now) >= (this.d.reconcileEveryMs ?? DEFAULT_RECONCILE_EVERY_MS);
    this.reconciledAt ??= now;
    return due;
  }

  /**
   * Take up what the pool's record says an earlier holder knew (this process before a restart,
   * or another gridhost that led the pool): its memory, breaker and last decision. Actions it
   * had in flight were cut short and are finished as failed now (what they left is the
   * reconciler's to repair), so their cooldowns start now, as the old holder's would have
   * when they ended.
   */
  private restore(policy: Policy, rec: PoolRecord | undefined, now: number): void {
    if (rec) this.record = rec;
    let m: PoolMemory = rec?.memory ? structuredClone(rec.memory) : this.memory;
    for (const a of m.inFlight) m = remember(policy, m, { kind: 'finished', id: a.id, outcome: 'failed' }, now);
    this.memory = remember(policy, m, { kind: 'restored', lastScaleOutAt: rec?.lastScaleOutAt, lastScaleInAt: rec?.lastScaleInAt }, now);
    if (rec?.breaker) this.guard.restore(rec.breaker);
    if (rec?.lastDecision) this.lastDecision = rec.lastDecision;
  }

  /**
   * Write the pool's record: a compare-and-set on the version last read, fenced by the pool's
   * token. Writes of one loop are serialised (a tick and a finishing action both write). When
   * someone else changed the record (an operator's pause, a reloaded policy), the fresh record
   * is read and this loop's own fields (memory, breaker, last decision, cooldowns, desired)
   * are written over it once more.
   */
  private persist(policy: Policy, now: number, desired?: number, served?: { keys: string[]; by: string }): Promise<void> {
    const run = async () => {
      const fence = fenceData(this.d.fence);
      const build = (base: PoolRecord | undefined): PoolRecord => {
        const rec: PoolRecord = {
          ...(base ?? { pool: policy.pool, file: policy.file, managed: true, desired: policy.min, updatedAt: now }),
          pool: policy.pool,
          file: policy.file,
          managed: true,
          memory: this.memory,
          breaker: this.guard.state(),
          updatedAt: now,
        };
        if (desired !== undefined) rec.desired = desired;
        if (this.lastDecision) rec.lastDecision = this.lastDecision;
        if (this.memory.lastScaleOutAt !== undefined) rec.lastScaleOutAt = this.memory.lastScaleOutAt;
        if (this.memory.lastScaleInAt !== undefined) rec.lastScaleInAt = this.memory.lastScaleInAt;
        // Applied to whatever signals the record holds now, so ones accepted meanwhile are kept.
        if (served) rec.signals = serveSignals(base?.signals, served.keys, now, served.by);
        return rec;
      };
      this.d.fence?.check();
      // Other writers (an operator, signals accepted by any process) may write in between more
      // than once: a few rewrites from the fresh record, as savePoolWith does.
      let base = this.record;
      for (let attempt = 1; ; attempt++) {
        try {
          this.record = await this.d.store.savePool(build(base), fence);
          return;
        } catch (e) {
          if (!(e instanceof GridhostError) || e.code !== 'GH_STALE_WRITE' || attempt >= 5) throw e;
          base = await this.d.store.getPool(policy.pool);
        }
      }
    };
    const p = this.persisting.then(run, run);
    this.persisting = p.catch(() => undefined);
    return p;
  }

  private withoutLost(guests: Guest[]): Guest[] {
    const isLost = this.d.isLost;
    if (!isLost) return guests;
    const lost = guests.filter(isLost);
    const key = lost.map((g) => g.id).sort().join(',');
    if (key !== this.lostReported) {
      this.lostReported = key;
      if (lost.length > 0) this.d.telemetry.warn('guests on hosts that stopped answering count as lost', { pool: this.pool, guests: lost.map((g) => `${g.id}@${g.host}`) });
      else this.d.telemetry.info('no guests lost any more', { pool: this.pool });
    }
    return lost.length === 0 ? guests : guests.filter((g) => !isLost(g));
  }

  private async sample(guests: readonly Guest[], now: number, policy: Policy): Promise<PoolSample> {
    const measurable = guests.filter((g) => GUEST_STATE_FACTS[g.state].serving && g.address);
    const sample: PoolSample = { at: now, guests: {} };
    const [, pool, hosts] = await Promise.all([
      this.d.metrics.sample(measurable).then(
        (values) => {
          for (const [id, v] of values) {
            sample.guests[id] = v;
            this.d.telemetry.guestValues(this.pool, id, v);
          }
        },
        // The whole source is down: an empty sample is what the decision core calls "missing".
        (e: unknown) => this.d.telemetry.warn('metrics source failed', { pool: this.pool, error: wrapError('GH_HOST_UNREACHABLE', e).message }),
      ),
      this.queries.values(policy),
      policy.contention && this.d.hostFacts ? this.d.hostFacts().catch(() => undefined) : undefined,
    ]);
    if (pool !== undefined) sample.pool = pool;
    if (hosts !== undefined) sample.hosts = hosts;
    await this.d.store.appendSample(this.pool, sample, fenceData(this.d.fence)).catch((e) => this.d.telemetry.warn('could not record sample', { pool: this.pool, error: String(e) }));
    for (const n of this.absence.observe(this.policy, sample, now)) this.d.telemetry[n.level](n.message, n.fields);
    return sample;
  }

  /** `by`: this action moves the pool to an operator's manual size (the request is its own event). */
  private startActing(decision: ScaleDecision, policy: Policy, actionId: string, started: number, by?: string): void {
    const fence = this.d.fence;
    this.background(async () => {
      let eventId: number | string | undefined;
      try {
        const ev = await this.d.store.appendEvent({ ...scaleEventOf(decision, 'started'), ...(by !== undefined ? { by } : {}), ...(fence ? { holder: fence.holder, token: fence.token } : {}) }, fenceData(fence));
        eventId = ev.id;
        this.d.telemetry.scaleEvent(scaleEventOf(decision, 'started'));
        const r = await this.d.actuator.apply(decision, policy, fence);
        await this.afterAct(decision, policy, r, actionId);
        if (eventId !== undefined) await this.d.store.updateEvent(eventId, r.outcome, r.detail, fenceData(fence));
        this.d.telemetry.scaleEvent({ ...scaleEventOf(decision, r.outcome, r.detail), durationMs: this.d.clock.now() - started });
      } catch (e) {
        const err = wrapError('GH_INTERNAL', e);
        this.d.telemetry.error('scale action failed', { pool: policy.pool, code: err.code, error: err.message });
        this.reconcileDue = true;
        if (eventId !== undefined) await this.d.store.updateEvent(eventId, 'failed', err.message, fenceData(fence)).catch(() => undefined);
        this.d.telemetry.scaleEvent({ ...scaleEventOf(decision, 'failed', err.message), durationMs: this.d.clock.now() - started });
      } finally {
        // Still in flight only if afterAct did not get to finish it (an error on the way).
        this.memory = remember(policy, this.memory, { kind: 'finished', id: actionId, outcome: 'failed' }, this.d.clock.now());
      }
    });
  }

  /** The replacements of sick guests that auto-heal allows now: remembered, returned to start. */
  private planHeal(policy: Policy, guests: readonly Guest[], size: number, now: number): (() => void)[] {
    const healer = this.d.healer;
    if (!healer) return [];
    const plan = planReplacements(policy, guests, this.memory.replacing, this.guard.mode(policy, now));
    const waiting = plan.waiting ?? '';
    if (waiting !== this.healWaitReported) {
      this.healWaitReported = waiting;
      if (waiting) this.d.telemetry.warn(waiting, { pool: policy.pool, event: 'auto-heal' });
    }
    const retire = (plan.retire ?? []).map((sick) => {
      this.memory = remember(policy, this.memory, { kind: 'replacing', sick: sick.id }, now);
      return () => healer.retireSick(policy, sick, () => {
        this.memory = remember(policy, this.memory, { kind: 'replaced', sick: sick.id }, this.d.clock.now());
      }, this.d.fence);
    });
    // The size the pool keeps: the decision's, which counts each sick guest waiting for its
    // replacement as capacity coming (awaitingReplacement()).
    const keeps = size;
    return [...retire, ...plan.start.map((sick) => {
      this.memory = remember(policy, this.memory, { kind: 'replacing', sick: sick.id }, now);
      return () => healer.start(policy, sick, keeps, (r) => this.afterReplace(policy, r), this.d.fence);
    })];
  }

  private afterReplace(policy: Policy, r: ReplaceResult): void {
    const now = this.d.clock.now();
    this.memory = remember(policy, this.memory, { kind: 'replaced', sick: r.sick.id }, now);
    if (r.skipped !== undefined) return;
    // The breaker hears of every launch, for scaling and for replacements alike.
    this.guard.note(policy, r.replacement ? 1 : 0, r.launchError ? [r.launchError] : [], r.launchError?.message ?? '', now);
  }

  private startOperatorOp(run: (p: Policy) => Promise<void>, policy: Policy): void {
    this.background(async () => {
      try {
        await run(policy);
      } catch {
        // The operator's caller gets the error (enqueue); the loop carries on.
      } finally {
        // Anything else queued, and the decision the action changed, come next.
        this.poke();
      }
    });
  }

  /** The rollout's (or evacuation's) tick; a batch it starts runs alone in the action slot, as
   *  an operator's action does. True when one started. */
  private async replacementBatch(
    what: 'rollout' | 'evacuation',
    source: { tick(policy: Policy, guests: readonly Guest[], rec: PoolRecord | undefined, mayAct: boolean, hooks: BatchHooks): Promise<(() => Promise<void>) | undefined> } | undefined,
    policy: Policy, guests: readonly Guest[], rec: PoolRecord | undefined, mayAct: boolean,
  ): Promise<boolean> {
    if (!source) return false;
    let batch: (() => Promise<void>) | undefined;
    try {
      batch = await source.tick(policy, guests, rec, mayAct, { recordLaunches: (n, errors) => this.recordLaunches(n, errors) });
    } catch (e) {
      const err = wrapError('GH_INTERNAL', e);
      this.d.telemetry.warn(`${what} check failed`, { pool: policy.pool, code: err.code, error: err.message });
    }
    if (!batch || this.isStopped()) return false;
    const run = batch;
    this.ops.add({ run: async () => {
      try {
        await run();
      } catch (e) {
        const err = wrapError('GH_INTERNAL', e);
        this.d.telemetry.error(`${what} batch failed`, { pool: policy.pool, code: err.code, error: err.message });
        this.reconcileDue = true;
      }
    } }).catch(() => undefined);
    this.startOperatorOp(this.ops.take()!, policy);
    return true;
  }

  private startReconcile(now: number): void {
    this.reconcileDue = false;
    this.reconciledAt = now;
    this.retrying = true;
    this.background(async () => {
      try {
        await this.d.reconcile!();
      } catch (e) {
        const err = wrapError('GH_INTERNAL', e);
        this.d.telemetry.error('reconciliation failed', { pool: this.pool, code: err.code, error: err.message });
      } finally {
        this.retrying = false;
      }
    });
  }

  /** The fence this loop acts under (undefined outside leadership). */
  fence(): ActingFence | undefined {
    return this.d.fence;
  }

  private startRetryStopping(guests: readonly Guest[], policy: Policy): void {
    this.retrying = true;
    this.background(async () => {
      try {
        const r = await this.d.actuator.retryStopping(guests, policy, this.d.fence);
        for (const err of r.errors) {
          this.d.telemetry.error(`cleanup of a guest failed again; retrying in ${STOPPING_RETRY_MS / 1000}s (the pool does not scale until it is gone)`, {
            pool: policy.pool, guest: err.details.guest, code: err.code, error: err.message,
          });
        }
      } catch (e) {
        const err = wrapError('GH_INTERNAL', e);
        this.d.telemetry.error('cleanup retry failed', { pool: policy.pool, code: err.code, error: err.message });
      } finally {
        this.retrying = false;
      }
    });
  }

  private async afterAct(decision: ScaleDecision, policy: Policy, r: ActOutcome, actionId: string): Promise<void> {
    const now = this.d.clock.now();
    // Launch outcomes feed the breaker and the "blocked" facts the API shows.
    if (decision.action === 'scale-out') this.guard.note(policy, r.launched, r.launchErrors, r.detail, now);
    // Whatever a failed driver step left is compared and repaired at the next free tick.
    if (r.outcome === 'failed') this.reconcileDue = true;
    // The cooldown starts now that the action has finished (see pool-memory.ts).
    this.memory = remember(policy, this.memory, { kind: 'finished', id: actionId, outcome: r.outcome }, now);
    await this.persist(policy, now, r.outcome === 'skipped' ? undefined : decision.to);
  }
}
