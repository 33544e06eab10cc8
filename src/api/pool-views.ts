// Read models for the API: what an operator wants to see about a pool, assembled from the
// store (durable facts) and the pool loop (live samples, last decision, breaker). The store and
// the decision core keep epoch milliseconds; every time leaves the API as ISO 8601 (UTC). Any
// gridhost process answers for any pool: one it does not lead is shown as its leader last wrote it.
import { rolloutView } from './rollout-view.ts';
import type { Member, PoolRecord, Store } from '../store/store.ts';
import { breakerMode, breakerRemainingMs } from '../controller/circuit-breaker.ts';
import type { Orchestrator } from '../controller/orchestrator.ts';
import type { ServingState } from '../drivers/balancer/serving-stats.ts';
import { boundsAt } from '../decision/schedule.ts';
import { cooldownRemaining } from '../decision/decide.ts';
import { flapBudgetAt } from '../decision/flap-budget.ts';
import { isSaturated } from '../decision/host-contention.ts';
import type { PolicyProblems } from '../controller/policy-problems.ts';
import type { Policy, PolicyMode } from '../domain/policy.ts';
import { warmPoolCounts } from '../decision/warm-pool.ts';
import { guestSizeOf } from '../decision/vertical-step.ts';
import { latestMetrics, operatorFacts, type OperatorFacts } from './operator-views.ts';
import { desiredSize, type PoolSample, GUEST_STATE_FACTS, GUEST_STATES, LIVE_STATES, type Decision, type Guest, type GuestState, type ScaleEvent } from '../domain/types.ts';

/**
 * What is happening to a pool: a policy manages it; its policy was removed and its guests run
 * on (unmanaged); an operator's retire is draining and stopping them (retiring); every guest is
 * gone after a retire (retired).
 */
export type PoolStatusName = 'managed' | 'unmanaged' | 'retiring' | 'retired';

export interface PoolSummary extends OperatorFacts {
  pool: string;
  status: PoolStatusName;
  managed: boolean;
  /** When an operator's retire finished (status retired). */
  retiredAt?: string;
  file?: string;
  size: number;
  /** The policy's mode: act, gridhost carries decisions out; recommend, it only publishes them
   *  (`recommended`). Not `mode`, which says who decides the size (auto, paused, manual). */
  policyMode?: PolicyMode;
  desired?: number;
  /** The size the decision core recommends now (absent for an unmanaged pool). */
  recommended?: number;
  min?: number;
  max?: number;
  guests: Partial<Record<GuestState, number>>;
  /** A client request reaches a backend (false: clients get 503; see GET /api/pools/:pool for why).
   *  Absent on a process that does not lead the pool (its front end runs in the leader). */
  serving?: boolean;
  lastDecision?: { at: string; direction: string; from: number; to: number; reason: string };
  /** Set while the pool's balancer cannot take guests (none is launched or retired). */
  blocked?: { code: string; message: string; since: string };
  leader?: LeaderView;
}

const LIVE = LIVE_STATES;

const iso = (ms: number): string => new Date(ms).toISOString();

/** A pool the API knows: one with a record in the store or a policy in force. */
export async function poolKnown(store: Store, orch: Orchestrator, pool: string): Promise<boolean> {
  return orch.status(pool) !== undefined || orch.policy(pool) !== undefined || (await store.getPool(pool)) !== undefined;
}

/** The API's shape of a decision, as scale events have it: `direction`, and `to` (the desired
 *  size, its `from` for a hold); `at` in ISO 8601. */
export function decisionView(d: Decision) {
  const { action, ...rest } = d;
  // A resize's own direction (up/down) is its `step`: `direction` is the action's, as for every kind.
  return { ...rest, ...(d.action === 'resize' ? { step: d.direction } : {}), at: iso(d.at), direction: action, to: desiredSize(d) };
}

/** A scale event as the API shows it (`at` in ISO 8601). */
export function eventView(e: ScaleEvent): Omit<ScaleEvent, 'at'> & { at: string } {
  return { ...e, at: iso(e.at) };
}

// Managed means a policy is in force, whichever process leads the pool.
function statusOf(orch: Orchestrator, pool: string, rec: PoolRecord | undefined, live: number, managed: boolean): PoolStatusName {
  if (managed) return 'managed';
  if (orch.isRetiring(pool)) return 'retiring';
  return rec?.retiredAt !== undefined && live === 0 ? 'retired' : 'unmanaged';
}

function countByState(guests: readonly Guest[]): Partial<Record<GuestState, number>> {
  const out: Partial<Record<GuestState, number>> = {};
  for (const g of guests) out[g.state] = (out[g.state] ?? 0) + 1;
  return out;
}

function blockedView(b: { code: string; message: string; since: number }) {
  return { code: b.code, message: b.message, since: new Date(b.since).toISOString() };
}

/** `serving`, and when the pool does not serve normally (no backend, fail-open) the reason. */
function servingFields(s: ServingState | undefined): { serving: boolean; failOpen: boolean; servingReason?: string } {
  if (s === undefined) return { serving: false, failOpen: false, servingReason: 'the balancer has no front end for this pool' };
  return { serving: s.serving, failOpen: s.failOpen, ...(s.reason !== undefined ? { servingReason: s.reason } : {}) };
}


/** Who leads a pool (its lease), as every process answers it from the store. */
export interface LeaderView {
  holder: string;
  token: number;
  /** Where the leader's API listens (from its heartbeat), when it is alive. */
  api?: string;
  /** This process leads it. */
  here: boolean;
  /** False when the lease has run out (the pool is between leaders). */
  valid: boolean;
}

async function leaderOf(store: Store, pool: string, here: string | undefined, now: number, members?: Map<string, Member>): Promise<LeaderView | undefined> {
  const lease = await store.getLease(pool);
  if (!lease) return undefined;
  const ms = members ?? new Map((await store.listMembers()).map((m) => [m.id, m]));
  const api = ms.get(lease.holder)?.api;
  // The store's clock set the expiry; on one machine (SQLite) it is ours, elsewhere close enough to show.
  return { holder: lease.holder, token: lease.token, ...(api ? { api } : {}), here: lease.holder === here, valid: lease.expiresAt > now };
}

/**
 * What the pool's leader knows, wherever the question is asked: from the loop when this
 * process leads the pool, else from the pool's record, which its leader writes every tick.
 */
function leaderState(orch: Orchestrator, rec: PoolRecord | undefined, pool: string, now: number) {
  const st = orch.status(pool);
  const policy = st?.policy ?? orch.policy(pool);
  if (st) return { policy, lastDecision: st.lastDecision, samples: st.samples as readonly PoolSample[] | undefined, breaker: st.breaker, loop: { state: st.state, acting: st.acting } };
  const breaker = policy && rec?.breaker
    ? (() => {
      const cfg = { failures: policy.breaker.failures, openMs: policy.breaker.openMs };
      return { mode: breakerMode(rec.breaker, cfg, now), consecutiveFailures: rec.breaker.consecutiveFailures, remainingMs: breakerRemainingMs(rec.breaker, cfg, now) };
    })()
    : undefined;
  // The leader's raw samples are in the store too (appended every tick): describePool reads them.
  // An unmanaged pool has no decision in force (its record keeps its last loop's; desired is the record's).
  return { policy, lastDecision: policy ? rec?.lastDecision : undefined, samples: undefined as readonly PoolSample[] | undefined, breaker, loop: undefined };
}

export async function summarizePools(store: Store, orch: Orchestrator, now: number, here?: string, problems?: PolicyProblems): Promise<PoolSummary[]> {
  const records = await store.listPools();
  const members = new Map((await store.listMembers()).map((m) => [m.id, m]));
  const names = new Set([...records.map((r) => r.pool), ...orch.managedPools()]);
  const out: PoolSummary[] = [];
  for (const pool of [...names].sort()) {
    const rec = records.find((r) => r.pool === pool);
    const st = leaderState(orch, rec, pool, now);
    const guests = await store.listGuests({ pool, states: LIVE });
    const b = st.policy ? boundsAt(st.policy, now) : undefined;
    const status = statusOf(orch, pool, rec, guests.length, st.policy !== undefined);
    const leader = await leaderOf(store, pool, here, now, members);
    const led = orch.status(pool);
    const checked = led ? await orch.backendsChecked(pool) : { backends: [] };
    const facts = operatorFacts({ status: led, record: rec, guests, problemOf: (f) => problems?.of(f), now, ...(checked.error ? { balancerError: checked.error } : {}) });
    const size = guests.filter((g) => GUEST_STATE_FACTS[g.state].counted).length;
    // What gridhost aims for: the operator's size, the size a pause keeps, else the last decision's.
    const control = facts.control;
    // A recommending pool (mode: recommend) keeps the size it has; what it would do is `recommended`.
    const desired = control?.mode === 'manual' ? control.desired : control?.mode === 'paused' ? size
      : st.lastDecision ? (st.policy?.mode === 'recommend' ? st.lastDecision.from : desiredSize(st.lastDecision)) : rec?.desired;
    out.push({
      pool,
      status,
      managed: st.policy !== undefined,
      ...(status === 'retired' ? { retiredAt: iso(rec!.retiredAt!) } : {}),
      file: st.policy?.file ?? rec?.file,
      size,
      policyMode: st.policy ? (st.policy.mode ?? 'act') : undefined,
      desired,
      // What the decision core would do now (mode: recommend publishes it without acting).
      recommended: st.policy && st.lastDecision ? desiredSize(st.lastDecision) : undefined,
      min: b?.min,
      max: b?.max,
      guests: countByState(guests),
      ...(orch.status(pool)?.blocked ? { blocked: blockedView(orch.status(pool)!.blocked!) } : {}),
      // The front end runs in the pool's leader: another process reports it as its leader does not.
      ...(orch.status(pool) || !st.policy ? { serving: (await orch.serving(pool))?.serving ?? false } : {}),
      lastDecision: st.lastDecision && {
        at: iso(st.lastDecision.at),
        direction: st.lastDecision.action,
        from: st.lastDecision.from,
        to: desiredSize(st.lastDecision),
        reason: st.lastDecision.reason,
      },
      ...(leader ? { leader } : {}),
      ...facts,
    });
  }
  return out;
}

/** policy flap_budget: spent of limit in the window, from the marks the leader wrote to the pool's record. */
function flapBudgetField(policy: Policy, rec: PoolRecord | undefined, now: number) {
  const b = flapBudgetAt(policy, rec?.memory?.changes, now);
  if (b === undefined) return {};
  return { flapBudget: { spent: b.spent, limit: b.limit, windowMs: b.windowMs, remaining: b.remaining, ...(b.nextAt !== undefined ? { nextAt: iso(b.nextAt) } : {}) } };
}

/** `warmPool: { target, warm, warming }` for a pool with a warm pool or warm guests left. */
function warmPoolView(policy: Policy | undefined, guests: readonly Guest[]) {
  const c = warmPoolCounts(policy ?? {}, guests);
  return c.target > 0 || c.warm > 0 || c.warming > 0 ? { warmPool: c } : {};
}

/** policy contention: each host's CPU use (0-1) and free memory as the newest sample saw them. */
function hostsField(policy: Policy, samples: readonly PoolSample[]) {
  const c = policy.contention;
  const hosts = samples[samples.length - 1]?.hosts;
  if (c === undefined || hosts === undefined) return {};
  return { hosts: hosts.map((h) => ({ ...h, saturated: isSaturated(h, c.saturatedAt) })), saturatedAt: c.saturatedAt };
}

/** What the driver set on the guest's scheduling (Xen: the credit weight and cap it applied, and
 *  the template's pinning), from its meta. */
function schedView(meta: Record<string, string>) {
  const out: { scheduler?: string; weight?: number; cap?: number; cpus?: string } = {};
  if (meta['scheduler'] !== undefined) out.scheduler = meta['scheduler'];
  if (meta['creditWeight'] !== undefined) out.weight = Number(meta['creditWeight']);
  if (meta['creditCap'] !== undefined) out.cap = Number(meta['creditCap']);
  if (meta['cpus'] !== undefined) out.cpus = meta['cpus'];
  return Object.keys(out).length > 0 ? { sched: out } : {};
}

/** The guest's vCPUs and memory now and at most (policy guest.vertical), from its record. */
function sizeView(g: Guest) {
  const s = guestSizeOf(g);
  return s === undefined ? {} : { size: { vcpus: s.vcpus, maxVcpus: s.maxVcpus, memoryMb: s.memoryMb, maxMemoryMb: s.maxMemoryMb } };
}

/** One guest as the API shows it, with its history (every time in ISO 8601). */
export function guestView(g: Guest) {
  return {
    id: g.id, pool: g.pool, state: g.state, host: g.host, address: g.address, driver: g.driver,
    createdAt: iso(g.createdAt),
    healthyAt: g.healthyAt === undefined ? undefined : iso(g.healthyAt),
    updatedAt: iso(g.updatedAt),
    ...(g.error !== undefined ? { error: g.error } : {}),
    history: (g.history ?? []).map((e) => ({ ...e, at: iso(e.at) })),
  };
}

export async function describePool(store: Store, orch: Orchestrator, pool: string, now: number, here?: string, problems?: PolicyProblems) {
  const rec = await store.getPool(pool);
  const st = leaderState(orch, rec, pool, now);
  if (!rec && !st.policy) return undefined;
  const guests = await store.listGuests({ pool, states: LIVE });
  const status = statusOf(orch, pool, rec, guests.length, st.policy !== undefined);
  const [lastEvent] = await store.listEvents({ pool, limit: 1 });
  const leader = await leaderOf(store, pool, here, now);
  const led = orch.status(pool);
  const { backends, error: balancerError } = await orch.backendsChecked(pool);
  const rollout = rolloutView(led?.rollout, rec?.rollout);
  const outdated = new Set(led?.rollout?.outdated ?? []);
  const base = {
    pool,
    status,
    managed: st.policy !== undefined,
    ...(status === 'retired' ? { retiredAt: iso(rec!.retiredAt!) } : {}),
    file: st.policy?.file ?? rec?.file,
    ...(st.policy ? {} : { desired: rec?.desired }),
    /** The newest scale event: for an unmanaged pool, what last happened to it (e.g. its retire). */
    lastEvent: lastEvent && eventView(lastEvent),
    ...(leader ? { leader } : {}),
    guests: guests.map((g) => {
      const metrics = latestMetrics(led, g.id);
      const b = backends.find((x) => x.id === g.id);
      return {
        id: g.id, state: g.state, host: g.host, address: g.address, driver: g.driver,
        createdAt: iso(g.createdAt),
        healthyAt: g.healthyAt === undefined ? undefined : iso(g.healthyAt),
        updatedAt: iso(g.updatedAt),
        ...(metrics ? { metrics } : {}),
        ...(b ? { backend: { healthy: b.healthy, draining: b.admin === 'drain', inflight: b.active, served: b.served } } : {}),
        ...(led?.rollout ? { outdated: outdated.has(g.id) } : {}),
        ...schedView(g.meta),
        ...sizeView(g),
      };
    }),
    rollout,
    // policy warm_pool: its size and the guests made and paused for it (not counted, not serving).
    ...warmPoolView(st.policy, guests),
    counts: Object.fromEntries(GUEST_STATES.map((s) => [s, guests.filter((g) => g.state === s).length])),
    // The builtin balancer runs in the leader: a follower has no front end of the pool (empty).
    backends,
    ...(orch.status(pool) || !st.policy ? servingFields(await orch.serving(pool)) : {}),
    // A follower has no loop: mode and control come from the record; rules, breaker and blockers from the leader.
    ...operatorFacts({ status: led, record: rec ?? undefined, guests, problemOf: (f) => problems?.of(f), now, ...(balancerError && led ? { balancerError } : {}) }),
  };
  if (!st.policy) return base;
  const b = boundsAt(st.policy, now);
  const samples = st.samples ?? (await store.listSamples(pool, now - 5 * 60_000)).slice(-20);
  const cd = cooldownRemaining(st.policy, { lastScaleOutAt: rec?.lastScaleOutAt, lastScaleInAt: rec?.lastScaleInAt }, now);
  return {
    ...base,
    policyMode: st.policy.mode ?? 'act',
    recommended: st.lastDecision ? desiredSize(st.lastDecision) : undefined,
    ...(st.loop ? { loop: st.loop } : {}),
    bounds: { min: b.min, max: b.max, schedules: b.active, policyMin: st.policy.min, policyMax: st.policy.max },
    cooldownRemainingMs: { scaleOut: cd.scaleOutMs, scaleIn: cd.scaleInMs },
    ...flapBudgetField(st.policy, rec, now),
    ...hostsField(st.policy, samples),
    ...(st.policy.guest.credit ? { credit: st.policy.guest.credit } : {}),
    ...(st.policy.guest.vertical ? { vertical: st.policy.guest.vertical } : {}),
    ...(st.breaker ? { breaker: st.breaker } : {}),
    ...(orch.status(pool)?.blocked ? { blocked: blockedView(orch.status(pool)!.blocked!) } : {}),
    lastDecision: st.lastDecision && decisionView(st.lastDecision),
    samples: samples.slice(-20).map((s) => ({ at: iso(s.at), guests: s.guests, ...(s.pool !== undefined ? { pool: s.pool } : {}) })),
  };
}
