// Number formatting shared by the reasons the decision core writes. Reasons are read by people
// (event log, API) and pinned by tests, so the format lives in one place.

/** Samples and means: always one decimal ("84.0"), exactly as x.toFixed(1) writes it. Every
 *  rule of every pool formats its values at every tick, and toFixed is a runtime call: for the
 *  usual values (0 <= x < 1e9) the rounded tenths are taken from x * 10, except near a tie
 *  (...x5), where that product may round differently from toFixed's exact decimal rounding. */
export function fmt1(x: number): string {
  if (x >= 0 && x < 1e9) {
    const tenths = x * 10;
    if (Math.abs(tenths - Math.floor(tenths) - 0.5) > 1e-6) {
      const r = Math.round(tenths);
      const whole = Math.floor(r / 10);
      return `${whole}.${r - whole * 10}`;
    }
  }
  return x.toFixed(1);
}

/** Values taken from the policy (bounds, targets): as written ("70", "0.5"). */
export function fmtConf(x: number): string {
  return String(x);
}

/** The unit suffix of a metric: `%` for cpu only, nothing otherwise. */
export function unitOf(metric: string): string {
  return metric === 'cpu' ? '%' : '';
}

/** "1 sample", "3 samples". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Guards ceil() against float noise: 3 * (4 / 3) must be 4, not 5. */
export function ceilSafe(x: number): number {
  return Math.ceil(x - 1e-9);
}

/** Milliseconds as whole seconds, rounded up so "blocked for another 0s" never appears. */
export function fmtSeconds(ms: number): string {
  return `${Math.ceil(ms / 1000)}s`;
}

/**
 * What scale-in stabilization went by: the recommendation it kept and when it was made, e.g.
 * `highest recommendation 6, made 40s ago (2026-11-27T10:00:05.000Z), in the last 120s`.
 */
export function fmtStabilization(highest: { desired: number; at: number }, now: number, windowMs: number): string {
  return `highest recommendation ${highest.desired}, made ${fmtSeconds(now - highest.at)} ago (${isoOf(highest.at)}), in the last ${fmtSeconds(windowMs)}`;
}

// A held pool names the same recommendation tick after tick: its time is formatted once (a
// value of its argument only; cleared when full).
const ISO = new Map<number, string>();
const ISO_LIMIT = 10_000;

/** Epoch ms as an ISO 8601 UTC timestamp. */
function isoOf(at: number): string {
  let s = ISO.get(at);
  if (s === undefined) {
    s = new Date(at).toISOString();
    if (ISO.size >= ISO_LIMIT) ISO.clear();
    ISO.set(at, s);
  }
  return s;
}
