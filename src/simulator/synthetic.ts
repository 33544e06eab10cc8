// Deterministic synthetic load traces for the simulator and the elasticity benchmark.
// Same seed => same trace: randomness comes only from the seeded mulberry32 PRNG below.
import type { Trace } from './trace.ts';

/** mulberry32 (Tommy Ettinger, public domain): small, fast, 32-bit state, good enough for noise. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface NoiseOptions {
  /** Relative multiplicative noise: each value is multiplied by 1 + noise * u, u uniform in [-1, 1]. */
  noise?: number;
  seed?: number;
  stepSeconds?: number;
}

function build(seconds: number, opts: NoiseOptions, shape: (t: number) => number): Trace {
  const step = opts.stepSeconds ?? 1;
  const n = Math.ceil(seconds / step);
  const rnd = mulberry32(opts.seed ?? 1);
  const noise = opts.noise ?? 0;
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const base = shape(i * step);
    const f = noise > 0 ? 1 + noise * (2 * rnd() - 1) : 1;
    values[i] = Math.max(0, base * f);
  }
  return { values, stepSeconds: step };
}

/** `low` rps until `at` seconds, then `high`. */
export function stepTrace(o: { seconds: number; low: number; high: number; at: number } & NoiseOptions): Trace {
  return build(o.seconds, o, (t) => (t < o.at ? o.low : o.high));
}

/** `from` rps until `start`, linear to `to` at `end`, then flat. */
export function rampTrace(o: { seconds: number; from: number; to: number; start: number; end: number } & NoiseOptions): Trace {
  return build(o.seconds, o, (t) => {
    if (t <= o.start) return o.from;
    if (t >= o.end) return o.to;
    return o.from + ((o.to - o.from) * (t - o.start)) / (o.end - o.start);
  });
}

/** A campaign launch: `base` rps, a linear rise to `peak` over `rise` seconds from `at`,
 *  then an exponential decay back towards base with time constant `decay` seconds. */
export function spikeTrace(o: { seconds: number; base: number; peak: number; at: number; rise: number; decay: number } & NoiseOptions): Trace {
  return build(o.seconds, o, (t) => {
    if (t < o.at) return o.base;
    const dt = t - o.at;
    if (dt < o.rise) return o.base + ((o.peak - o.base) * dt) / o.rise;
    return o.base + (o.peak - o.base) * Math.exp(-(dt - o.rise) / o.decay);
  });
}

/** A daily cycle between `low` (at `troughHour`, default 4 am) and `high` twelve hours later. */
export function diurnalTrace(o: { seconds: number; low: number; high: number; troughHour?: number; periodSeconds?: number } & NoiseOptions): Trace {
  const period = o.periodSeconds ?? 86_400;
  const trough = ((o.troughHour ?? 4) / 24) * period;
  return build(o.seconds, o, (t) => o.low + ((o.high - o.low) * (1 - Math.cos((2 * Math.PI * (t - trough)) / period))) / 2);
}
