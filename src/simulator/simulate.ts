// Replays a load trace through a policy and the REAL decision core (src/decision/decide.ts) on a
// simulated clock. The guest model: a scale-out adds guests that boot for `bootSeconds`, then
// pass the health check `healthDelaySeconds` later and start serving; a scale-in drains the
// newest healthy guests (the controller's victim choice) and removes them `drainSeconds` later.
// Healthy guests share the load evenly; each sampling tick reports per guest, from the mean load
// of the interval: rps = load / healthy guests (x seeded noise), cpu% = min(100, 100 * rps /
// capacity) and an in-flight estimate (M/M/1 queue length). No I/O, no wall clock: the same
// inputs and seed give the same result.
import { pickVictims } from '../controller/actuator.ts';
import { decide } from '../decision/decide.ts';
import type { PoolView, Recommendation } from '../decision/decide-types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Decision, Guest, MetricValues, PoolSample } from '../domain/types.ts';
import { demandCurve, elasticity, type ElasticityMetrics } from './bungee.ts';
import { mulberry32 } from './synthetic.ts';

export interface SimOptions {
  policy: Policy;
  /** Requests per second per step. */
  trace: ArrayLike<number>;
  stepSeconds: number;
  /** Requests per second one guest serves at 100% CPU. */
  capacityPerGuest: number;
  bootSeconds: number;
  healthDelaySeconds: number;
  /** Time a retired guest drains before it is gone (default 10 s). */
  drainSeconds?: number;
  seed?: number;
  /** Relative per-guest measurement noise (default 0.05 = +-5%). */
  noise?: number;
  /** Epoch ms of the first step (default Monday 2026-01-05 00:00 UTC): schedules read it. */
  startAt?: number;
  /** Healthy guests at the start (default policy.min). */
  initialGuests?: number;
}

export interface SimResult {
  metrics: ElasticityMetrics;
  stepSeconds: number;
  load: ArrayLike<number>;
  /** Guests needed per step: clamp(ceil(load / capacity), min, max). */
  demand: Int32Array;
  /** Healthy (serving) guests per step. */
  supply: Int32Array;
  /** Guests that exist per step (booting, healthy, draining): what is paid for. */
  billed: Int32Array;
  /** The scale decisions that were carried out (holds left out). */
  actions: Decision[];
  /** Sampling ticks (decide() calls). */
  ticks: number;
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
  const keepTicks = Math.max(
    1,
    Math.ceil(policy.sampling.windowMs / interval),
    policy.rules.reduce((m, r) => Math.max(m, r.for), 1),
  );

  let guests: SimGuest[] = [];
  let serial = 0;
  const newGuest = (state: 'booting' | 'healthy', at: number, until: number): SimGuest => {
    const g: SimGuest = { id: `${policy.pool}-sim${++serial}`, pool: policy.pool, state, driver: 'sim', host: 'sim', createdAt: at, updatedAt: at, meta: {}, until };
    if (state === 'healthy') g.healthyAt = at;
    return g;
  };
  const initial = o.initialGuests ?? policy.min;
  // Started long before the trace, so they are warmed up.
  for (let i = 0; i < initial; i++) guests.push(newGuest('healthy', start - 3600_000, Infinity));

  const samples: PoolSample[] = [];
  let recommendations: Recommendation[] = [];
  let lastScaleOutAt: number | undefined;
  let lastScaleInAt: number | undefined;
  const actions: Decision[] = [];
  let ticks = 0;

  /** Apply every lifecycle transition due at or before `t`. */
  let nextEvent = Infinity;
  const advance = (t: number): void => {
    if (t < nextEvent) return;
    let changed = false;
    nextEvent = Infinity;
    for (const g of guests) {
      if (g.until <= t) {
        if (g.state === 'booting') {
          g.state = 'healthy';
          g.healthyAt = g.until;
          g.updatedAt = g.until;
          g.until = Infinity;
        } else if (g.state === 'draining') {
          g.state = 'gone';
          changed = true;
        }
      }
      if (g.until < nextEvent) nextEvent = g.until;
    }
    if (changed) guests = guests.filter((g) => g.state !== 'gone');
  };

  const demand = demandCurve(trace, cap, policy.min, policy.max);
  const supply = new Int32Array(n);
  const billed = new Int32Array(n);

  let accLoad = 0;
  let accMs = 0;
  let nextTick = start + interval;
  for (let i = 0; i < n; i++) {
    const t0 = start + i * stepMs;
    const t1 = t0 + stepMs;
    const load = trace[i]!;
    advance(t0);
    let healthy = 0;
    for (const g of guests) if (g.state === 'healthy') healthy++;
    supply[i] = healthy;
    billed[i] = guests.length;
    accLoad += load * stepMs;
    accMs += stepMs;

    while (nextTick <= t1) {
      const now = nextTick;
      nextTick += interval;
      advance(now);
      ticks++;
      const meanLoad = accMs > 0 ? accLoad / accMs : load;
      accLoad = 0;
      accMs = 0;
      samples.push(sampleTick(now, guests, meanLoad, cap, noise, rnd));
      if (samples.length > keepTicks) samples.shift();
      const view: PoolView = {
        guests,
        samples,
        recommendations,
        ...(lastScaleOutAt !== undefined ? { lastScaleOutAt } : {}),
        ...(lastScaleInAt !== undefined ? { lastScaleInAt } : {}),
      };
      const { decision, recommendation } = decide(policy, view, now);
      if (recommendation) {
        recommendations.push(recommendation);
        const horizon = now - policy.scaleIn.stabilizationMs;
        if (recommendations[0]!.at <= horizon) recommendations = recommendations.filter((r) => r.at > horizon);
      }
      if (decision.direction === 'scale-out') {
        for (let k = decision.from; k < decision.to; k++) guests.push(newGuest('booting', now, now + upMs));
        lastScaleOutAt = now;
        actions.push(decision);
        nextEvent = Math.min(nextEvent, now + upMs);
      } else if (decision.direction === 'scale-in') {
        for (const v of pickVictims(guests, decision.from - decision.to)) {
          const g = v as SimGuest;
          g.state = 'draining';
          g.updatedAt = now;
          g.until = now + drainMs;
        }
        lastScaleInAt = now;
        actions.push(decision);
        nextEvent = Math.min(nextEvent, now + drainMs);
      }
    }
  }

  const metrics = elasticity({ demand, supply, billed, load: trace, stepSeconds: o.stepSeconds, actions: actions.length });
  return { metrics, stepSeconds: o.stepSeconds, load: trace, demand, supply, billed, actions, ticks };
}

/** What each healthy guest reports at one tick. */
function sampleTick(at: number, guests: readonly Guest[], meanLoad: number, cap: number, noise: number, rnd: () => number): PoolSample {
  const healthy = guests.filter((g) => g.state === 'healthy');
  const out: Record<string, MetricValues> = {};
  if (healthy.length === 0) return { at, guests: out };
  const share = meanLoad / healthy.length;
  for (const g of healthy) {
    const rps = Math.max(0, share * (noise > 0 ? 1 + noise * (2 * rnd() - 1) : 1));
    const rho = rps / cap;
    out[g.id] = {
      rps,
      cpu: Math.min(100, 100 * rho),
      // M/M/1 mean number in system; past saturation the queue grows, capped for sanity.
      inflight: rho < 0.99 ? rho / (1 - rho) : 100 * rho,
    };
  }
  return { at, guests: out };
}
