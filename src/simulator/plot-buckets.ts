// Bucketing for the simulator's charts: a long run has far more steps than a chart has pixels,
// so steps are grouped into buckets of a round duration and each bucket is summarised honestly:
// the mean and the min..max of every series, and the share of the bucket's time that supply was
// below demand (the per-bucket timeshare_U). Picking one extreme per series (max demand against
// min supply) would show a shortfall in every bucket that had any change at all. Pure.

/** Round bucket lengths, seconds: the smallest that fits the point budget and is a whole number of steps. */
const ROUND_SECONDS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
];

/**
 * Steps per bucket so that `n` steps make at most `maxPoints` buckets, rounded up to a round
 * duration when one is a whole number of steps and not much coarser than needed.
 */
export function bucketSteps(n: number, stepSeconds: number, maxPoints: number): number {
  const min = Math.max(1, Math.ceil(n / Math.max(1, maxPoints)));
  if (min === 1) return 1;
  for (const s of ROUND_SECONDS) {
    const k = s / stepSeconds;
    if (k >= min && k <= 3 * min && Math.abs(k - Math.round(k)) < 1e-9) return Math.round(k);
  }
  return min;
}

/** "5 s", "15 min", "1 h", "36 h", "58.6 d": whole units where they fit, days from two days on. */
export function formatSeconds(s: number): string {
  const unit = (v: number, u: string): string => `${Number.isInteger(v) ? v : v.toFixed(1)} ${u}`;
  if (s >= 2 * 86_400 || (s >= 86_400 && s % 86_400 === 0)) return unit(s / 86_400, 'd');
  if (s >= 3600) return unit(s / 3600, 'h');
  if (s >= 60) return unit(s / 60, 'min');
  return unit(s, 's');
}

export interface Summary {
  mean: number;
  min: number;
  max: number;
}

function summarise(x: ArrayLike<number>, s: number, e: number): Summary {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = s; i < e; i++) {
    const v = x[i]!;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { mean: sum / (e - s), min, max };
}

/** Fraction of steps in [s, e) with supply < demand. */
function shortShare(supply: ArrayLike<number>, demand: ArrayLike<number>, s: number, e: number): number {
  let k = 0;
  for (let i = s; i < e; i++) if (supply[i]! < demand[i]!) k++;
  return k / (e - s);
}

export interface Bucket {
  /** First step of the bucket. */
  start: number;
  /** One past its last step. */
  end: number;
  load: Summary;
  demand: Summary;
  /** One per supply series, in input order. */
  supply: Summary[];
  /** Per supply series: fraction of the bucket's steps with supply < demand. */
  short: number[];
}

export function buckets(load: ArrayLike<number>, demand: ArrayLike<number>, supplies: readonly ArrayLike<number>[], size: number): Bucket[] {
  const n = load.length;
  const out: Bucket[] = [];
  for (let s = 0; s < n; s += size) {
    const e = Math.min(s + size, n);
    out.push({
      start: s,
      end: e,
      load: summarise(load, s, e),
      demand: summarise(demand, s, e),
      supply: supplies.map((x) => summarise(x, s, e)),
      short: supplies.map((x) => shortShare(x, demand, s, e)),
    });
  }
  return out;
}

/** Fraction of all steps with supply < demand (timeshare_U over the whole run). */
export function overallShort(supply: ArrayLike<number>, demand: ArrayLike<number>): number {
  return supply.length === 0 ? 0 : shortShare(supply, demand, 0, supply.length);
}
