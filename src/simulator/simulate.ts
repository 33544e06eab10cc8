// Replays a load trace through a policy and the REAL decision core (src/decision/decide.ts) on a
// simulated clock, remembering between ticks exactly what the pool loop remembers (the same
// reducer, src/decision/pool-memory.ts: samples by time, recommendations, cooldowns that start
// when an action has finished, actions in flight). The guest model: a scale-out adds guests that
// boot for `bootSeconds`, then pass the health check `healthDelaySeconds` later and start
// serving, which finishes the action; a scale-in drains the guests the actuator would pick
// (the same pickVictims() with the policy's scale_in.victims) and removes them `drainSeconds` later, which finishes it.
// Healthy guests share the load evenly; each sampling tick reports per guest, from the mean load
// of the interval: rps = load / healthy guests (x seeded noise), cpu% = min(100, 100 * rps /
// capacity) and an in-flight estimate (M/M/1 queue length). No I/O, no wall clock: the same
// inputs and seed give the same result.
// A policy with warm_pool keeps that many guests warm (made before the trace; paid for, not
// serving): a scale-out takes warm guests first, which serve `warmBootSeconds` later instead of
// boot + health delay, and each one taken is made again (warming: boot + health delay, then warm),
// with the same pure helpers the pool loop uses (decision/warm-pool.ts).
// A policy with guest.vertical and the `vertical` option: guests start at 1 vCPU of at most
// maxVcpus; a guest serves capacity x its vCPUs (capacity per guest is per vCPU), a resize shows
// `resizeSeconds` later, and supply and billed count capacity in one-vCPU guests.
import { pickVictims } from '../decision/pick-victims.ts';
import { pickWarm, planWarmPool } from '../decision/warm-pool.ts';
import { emptyMemory, mayStartAction, remember, tick } from '../decision/pool-memory.ts';
import type { StrategyRegistry } from '../decision/strategies/index.ts';
import type { Policy } from '../domain/policy.ts';
import type { Decision, Guest, GuestResize, ScaleDecision, MetricValues, PoolSample } from '../domain/types.ts';
import { demandCurve, elasticity, type ElasticityMetrics } from './bungee.ts';
import { mulberry32 } from './synthetic.ts';
import { balancerSampleKey } from '../domain/balancer-metrics.ts';

export interface SimOptions {
  policy: Policy;
  /** Requests per second per step. */
  trace: ArrayLike<number>;
  stepSeconds: number;
  /** Requests per second one guest serves at 100% CPU. */
  capacityPerGuest: number;
  bootSeconds: number;
  healthDelaySeconds: number;
  /** Seconds from taking a warm guest (unpause) to it serving (default 1: the lab's 0.19 s
   *  unpause, a health check and the balancer's check). */
  warmBootSeconds?: number;
  /** Time a retired guest drains before it is gone (default 10 s). */
  drainSeconds?: number;
  seed?: number;
  /** Relative per-guest measurement noise (default 0.05 = +-5%). */
  noise?: number;
  /** Epoch ms of the first step (default Monday 2026-01-05 00:00 UTC): schedules read it. */
  startAt?: number;
  /** Healthy guests at the start (default policy.min). */
  initialGuests?: number;
  /** Resolves the policy's rule strategies (default: the core ones policy files may use). */
  strategies?: StrategyRegistry;
  /** Replays: per step, the epoch ms of the recorded tick that measured it (NaN: none). When
   *  given, the simulation decides once at each of these times, from that step's load, instead
   *  of every sampling interval from `startAt`. */
  tickTimes?: ArrayLike<number>;
  /** Vertical steps (policy guest.vertical): each guest's vCPU ceiling, and seconds from a resize
   *  to the guest's new capacity (default 1). Absent: guests have 1 vCPU and no room to step. */
  vertical?: { maxVcpus: number; resizeSeconds?: number };
  /** Called with every tick's decision, holds too, in order (tests and tools that compare runs). */
  onDecision?: (decision: Decision) => void;
}

export interface SimResult {
  metrics: ElasticityMetrics;
  stepSeconds: number;
  load: ArrayLike<number>;
  /** Guests needed per step: clamp(ceil(load / capacity), min, max). */
  demand: Int32Array;
  /** Healthy (serving) guests per step. */
  supply: Int32Array;
  /** Guests that exist per step (booting, healthy, draining, warm or warming): what is paid for. */
  billed: Int32Array;
  /** The scale decisions that were carried out (holds left out). */
  actions: ScaleDecision[];
  /** Sampling ticks (decide() calls). */
  ticks: number;
  /** Guests a scale-out took from the warm pool / launched cold. */
  scaleOutGuests: { warm: number; cold: number };
  /** The guests each scale-in retired (ids as the simulator names them: `<pool>-sim<n>`, in launch order). */
  retired: { at: number; guests: string[] }[];
}

export const DEFAULT_START = Date.UTC(2026, 0, 5, 0, 0, 0);

interface SimGuest extends Guest {
  /** When a booting guest becomes healthy / a draining guest is gone. */
  until: number;
}

export function simulate(o: SimOptions): SimResult {
  const { policy, trace, capacityPerGuest: cap } = o;
  if (!(o.stepSeconds > 0)) throw new RangeError('stepSeconds must be > 0');
  if (!(cap > 0)) throw new RangeError('capacityPerGuest must be > 0');
  const n = trace.length;
  const stepMs = o.stepSeconds * 1000;
  const interval = policy.sampling.intervalMs;
  const start = o.startAt ?? DEFAULT_START;
  const upMs = (o.bootSeconds + o.healthDelaySeconds) * 1000;
  const drainMs = (o.drainSeconds ?? 10) * 1000;
  const noise = o.noise ?? 0.05;
  const rnd = mulberry32(o.seed ?? 1);

  let guests: SimGuest[] = [];
  let serial = 0;
  const warmMs = (o.warmBootSeconds ?? 1) * 1000;
  const warmTarget = policy.warmPool?.size ?? 0;
  const scaleOutGuests = { warm: 0, cold: 0 };
  const maxVcpus = Math.max(1, Math.trunc(o.vertical?.maxVcpus ?? 1));
  const resizeMs = (o.vertical?.resizeSeconds ?? 1) * 1000;
  const sizeMeta = { vcpus: '1', maxvcpus: String(maxVcpus), base_vcpus: '1', memory_mb: '512', maxmem_mb: '512', base_memory_mb: '512' };
  /** Resizes whose vCPUs show at `at`. */
  const resizing: { at: number; steps: GuestResize[] }[] = [];
  const newGuest = (state: 'booting' | 'healthy' | 'warm' | 'warming', at: number, until: number): SimGuest => {
    const g: SimGuest = { id: `${policy.pool}-sim${++serial}`, pool: policy.pool, state, driver: 'sim', host: 'sim', createdAt: at, updatedAt: at, meta: { ...sizeMeta }, until };
    if (state === 'healthy') g.healthyAt = at;
    return g;
  };
  const initial = o.initialGuests ?? policy.min;
  // Started long before the trace, so they are warmed up.
  for (let i = 0; i < initial; i++) guests.push(newGuest('healthy', start - 3600_000, Infinity));
  for (let i = 0; i < warmTarget; i++) guests.push(newGuest('warm', start - 3600_000, Infinity));

  let memory = emptyMemory();
  /** Actions in flight and when they finish (all their guests healthy / gone). */
  const finishing: { id: string; at: number }[] = [];
  const actions: ScaleDecision[] = [];
  const retired: SimResult['retired'] = [];
  let ticks = 0;

  /** Apply every lifecycle transition and action finish due at or before `t`. */
  let nextEvent = Infinity;
  const advance = (t: number): void => {
    if (t < nextEvent) return;
    for (let k = 0; k < finishing.length; ) {
      const f = finishing[k]!;
      if (f.at <= t) {
        memory = remember(policy, memory, { kind: 'finished', id: f.id, outcome: 'done' }, f.at);
        finishing.splice(k, 1);
      } else k++;
    }
    for (let k = 0; k < resizing.length; ) {
      const r = resizing[k]!;
      if (r.at <= t) {
        for (const step of r.steps) {
          const g = guests.find((x) => x.id === step.id);
          if (g) g.meta = { ...g.meta, vcpus: String(step.vcpus.to), memory_mb: String(step.memoryMb.to) };
        }
        resizing.splice(k, 1);
      } else k++;
    }
    let changed = false;
    nextEvent = Infinity;
    for (const g of guests) {
      if (g.until <= t) {
        if (g.state === 'booting') {
          g.state = 'healthy';
          g.healthyAt = g.until;
          g.updatedAt = g.until;
          g.until = Infinity;
        } else if (g.state === 'warming') {
          g.state = 'warm';
          g.updatedAt = g.until;
          g.until = Infinity;
        } else if (g.state === 'draining') {
          g.state = 'gone';
          changed = true;
        }
      }
      if (g.until < nextEvent) nextEvent = g.until;
    }
    for (const f of finishing) if (f.at < nextEvent) nextEvent = f.at;
    for (const r of resizing) if (r.at < nextEvent) nextEvent = r.at;
    if (changed) guests = guests.filter((g) => g.state !== 'gone');
  };

  const demand = demandCurve(trace, cap, policy.min, policy.max);
  const supply = new Int32Array(n);
  const billed = new Int32Array(n);

  let accLoad = 0;
  let accMs = 0;
  let nextTick = start + interval;
  const tickTimes = o.tickTimes;
  if (tickTimes !== undefined && tickTimes.length !== n) throw new RangeError('tickTimes must have one entry per trace step');
  let tickedStep = -1;
  for (let i = 0; i < n; i++) {
    const t0 = start + i * stepMs;
    const t1 = t0 + stepMs;
    const load = trace[i]!;
    advance(t0);
    let healthy = 0;
    let paid = 0;
    for (const g of guests) {
      paid += vcpusOf(g);
      if (g.state === 'healthy') healthy += vcpusOf(g);
    }
    supply[i] = healthy;
    billed[i] = paid;
    accLoad += load * stepMs;
    accMs += stepMs;

    for (;;) {
      let now: number;
      let meanLoad: number;
      if (tickTimes !== undefined) {
        // One recorded tick per step at most, deciding from what it measured.
        if (tickedStep === i || !Number.isFinite(tickTimes[i]!)) break;
        tickedStep = i;
        now = tickTimes[i]!;
        meanLoad = load;
      } else {
        if (nextTick > t1) break;
        now = nextTick;
        nextTick += interval;
        meanLoad = accMs > 0 ? accLoad / accMs : load;
        accLoad = 0;
        accMs = 0;
      }
      advance(now);
      ticks++;
      const sample = sampleTick(now, guests, meanLoad, cap, noise, rnd);
      const next = tick(policy, memory, guests, sample, now, o.strategies);
      memory = next.memory;
      const decision = next.result.decision;
      o.onDecision?.(decision);
      // What may start beside actions in flight is the pool loop's rule too.
      if (!mayStartAction(policy, memory, decision)) continue;
      const id = `${decision.action}@${now}`;
      memory = remember(policy, memory, { kind: 'started', id, decision }, now);
      const taken = decision.action === 'scale-out' ? pickWarm(guests, decision.to - decision.from) : [];
      const cold = decision.action === 'scale-out' ? decision.to - decision.from - taken.length : 0;
      // The action ends when its last guest serves: a cold one's boot, else the warm ones' unpause.
      const done = now + (decision.action === 'scale-out' ? (cold > 0 ? upMs : warmMs) : decision.action === 'resize' ? resizeMs : drainMs);
      finishing.push({ id, at: done });
      nextEvent = Math.min(nextEvent, done);
      actions.push(decision);
      if (decision.action === 'resize') {
        resizing.push({ at: done, steps: decision.guests });
      } else if (decision.action === 'scale-out') {
        for (const g of taken) {
          g.state = 'booting';
          g.updatedAt = now;
          g.until = now + warmMs;
        }
        for (let k = 0; k < cold; k++) guests.push(newGuest('booting', now, now + upMs));
        scaleOutGuests.warm += taken.length;
        scaleOutGuests.cold += cold;
        // Refilled in the background, as the pool loop's warm pool does.
        for (let k = planWarmPool(warmTarget, guests).make; k > 0; k--) guests.push(newGuest('warming', now, now + upMs));
        nextEvent = Math.min(nextEvent, now + Math.min(warmMs, upMs));
      } else {
        const victims = pickVictims(guests, decision.from - decision.to, { order: policy.scaleIn.victims, facts: { inflight: inflightOf(sample) } });
        retired.push({ at: now, guests: victims.map((g) => g.id) });
        for (const g of victims) {
          g.state = 'draining';
          g.updatedAt = now;
          g.until = done;
        }
      }
    }
  }

  const metrics = elasticity({ demand, supply, billed, load: trace, stepSeconds: o.stepSeconds, actions: actions.length });
  return { metrics, stepSeconds: o.stepSeconds, load: trace, demand, supply, billed, actions, ticks, retired, scaleOutGuests };
}

/** A simulated guest's vCPUs (its capacity in one-vCPU guests). */
function vcpusOf(g: Guest): number {
  const v = Number(g.meta['vcpus']);
  return Number.isInteger(v) && v > 0 ? v : 1;
}

/** The in-flight estimate each guest reported at the tick, for `least-busy`. */
function inflightOf(sample: PoolSample): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [id, v] of Object.entries(sample.guests)) if (v.inflight !== undefined) out[id] = v.inflight;
  return out;
}

/** What each healthy guest reports at one tick. */
function sampleTick(at: number, guests: readonly Guest[], meanLoad: number, cap: number, noise: number, rnd: () => number): PoolSample {
  const healthy = guests.filter((g) => g.state === 'healthy');
  const out: Record<string, MetricValues> = {};
  if (healthy.length === 0) return { at, guests: out };
  const share = meanLoad / healthy.length;
  for (const g of healthy) {
    const rps = Math.max(0, share * (noise > 0 ? 1 + noise * (2 * rnd() - 1) : 1));
    const rho = rps / (cap * vcpusOf(g));
    out[g.id] = {
      rps,
      cpu: Math.min(100, 100 * rho),
      // M/M/1 mean number in system; past saturation the queue grows, capped for sanity.
      inflight: rho < 0.99 ? rho / (1 - rho) : 100 * rho,
    };
    // What the balancer sees of the same guest (rules with `source: balancer`).
    out[g.id]![balancerSampleKey('rps')] = rps;
    out[g.id]![balancerSampleKey('inflight')] = out[g.id]!.inflight!;
  }
  return { at, guests: out };
}
