// Replay of what gridhost recorded for a pool: its stored samples become a load trace (the pool's
// total of one metric per tick) and a recorded supply curve (guests that reported), so an
// operator can rerun an incident through a changed policy and compare. Pure functions except
// loadRecording(), which only reads the store.
import type { Guest, PoolSample, ScaleEvent } from '../domain/types.ts';
import { GridhostError } from '../errors/errors.ts';
import type { Store } from '../store/store.ts';

export interface RecordedTrace {
  /** Pool total of the metric per step (requests per second for `rps`). */
  values: Float64Array;
  /** Guests that reported at each step: the serving supply of the recorded run. */
  guests: Int32Array;
  /** Epoch ms of the recorded tick on each step (the latest, if two fell on one), NaN on a step
   *  without a usable tick: a replay decides at these times, as the recorded loop did, rather
   *  than on a fixed grid its timers drifted from. */
  tickAt: Float64Array;
  /** The recorded sampling interval (median spacing of the ticks), seconds. */
  stepSeconds: number;
  /** Epoch ms of the first recorded tick (the replay's start). */
  startAt: number;
  /** Epoch ms of the last recorded tick. */
  endAt: number;
  /** Recorded ticks used. */
  ticks: number;
  /** Steps with no usable tick (gridhost down, metrics source failed): previous step carried forward. */
  filled: number;
  /** Metric names the recorded guests reported. */
  metrics: string[];
}

/** Median of the gaps between consecutive tick times, ms (0 with fewer than 2 ticks). */
function medianSpacing(samples: readonly PoolSample[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const d = samples[i]!.at - samples[i - 1]!.at;
    if (d > 0) gaps.push(d);
  }
  if (gaps.length === 0) return 0;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

/**
 * The load trace of recorded samples (oldest first): each tick's sum over guests of `metric`,
 * placed on the step of its tick time. The step is the median tick spacing, rounded to whole
 * seconds (`fallbackStepSeconds` when there is a single tick). Steps without a tick, or whose
 * tick has no guest reporting the metric, repeat the previous step.
 */
export function recordedTrace(samples: readonly PoolSample[], metric: string, fallbackStepSeconds: number): RecordedTrace {
  if (samples.length === 0) throw new GridhostError('GH_TRACE_INVALID', 'no recorded samples to replay');
  const spacing = medianSpacing(samples);
  const stepSeconds = spacing > 0 ? Math.max(1, Math.round(spacing / 1000)) : fallbackStepSeconds;
  const stepMs = stepSeconds * 1000;
  const startAt = samples[0]!.at;
  const endAt = samples[samples.length - 1]!.at;
  const n = Math.floor((endAt - startAt) / stepMs + 0.5) + 1;
  const values = new Float64Array(n);
  const guests = new Int32Array(n);
  const tickAt = new Float64Array(n).fill(NaN);
  const seen = new Uint8Array(n);
  const sums = new Float64Array(n);
  const counts = new Int32Array(n);
  const metrics = new Set<string>();
  let withMetric = 0;
  for (const s of samples) {
    const ids = Object.keys(s.guests);
    for (const id of ids) for (const k of Object.keys(s.guests[id]!)) metrics.add(k);
    let sum = 0;
    let reported = 0;
    for (const id of ids) {
      const v = s.guests[id]![metric];
      if (v === undefined || !Number.isFinite(v)) continue;
      sum += v;
      reported++;
    }
    if (reported === 0) continue;
    withMetric++;
    const i = Math.min(n - 1, Math.max(0, Math.round((s.at - startAt) / stepMs)));
    // Two ticks on one step (clock jitter): average them.
    sums[i] = sums[i]! + sum;
    guests[i] = Math.max(guests[i]!, ids.length);
    counts[i] = counts[i]! + 1;
    seen[i] = 1;
    tickAt[i] = s.at;
  }
  if (withMetric === 0) {
    const known = [...metrics].sort();
    throw new GridhostError(
      'GH_TRACE_INVALID',
      `no recorded guest reported the metric "${metric}"; ${known.length > 0 ? `recorded metrics: ${known.join(', ')}` : 'the recorded samples hold no guest values (metrics source down?)'} (choose one with --metric)`,
      { metric, recorded: known },
    );
  }
  let filled = 0;
  const first = seen.indexOf(1);
  for (let i = 0; i < n; i++) {
    if (seen[i]) {
      values[i] = sums[i]! / counts[i]!;
      continue;
    }
    filled++;
    // Before the first usable tick, take that tick's value; after, carry the last one forward.
    const from = i < first ? first : i - 1;
    values[i] = i < first ? sums[from]! / counts[from]! : values[from]!;
    guests[i] = guests[from]!;
  }
  return { values, guests, tickAt, stepSeconds, startAt, endAt, ticks: samples.length, filled, metrics: [...metrics].sort() };
}

/**
 * Requests per second one guest serves at 100% cpu, estimated from recorded per-guest values of
 * `metric` and `cpu` (median of metric / (cpu / 100) over values with cpu in [10, 95]: idle
 * guests are noise, saturated ones hide the rate). Undefined when too few values qualify.
 */
export function estimateCapacity(samples: readonly PoolSample[], metric: string): number | undefined {
  const ratios: number[] = [];
  for (const s of samples) {
    for (const v of Object.values(s.guests)) {
      const cpu = v.cpu;
      const m = v[metric];
      if (cpu === undefined || m === undefined || !(cpu >= 10 && cpu <= 95) || !(m >= 0)) continue;
      ratios.push(m / (cpu / 100));
    }
  }
  if (ratios.length < 3) return undefined;
  ratios.sort((a, b) => a - b);
  return ratios[Math.floor(ratios.length / 2)]!;
}

export interface RecordedActions {
  scaleOut: number;
  scaleIn: number;
  /** Outcome -> count, over both directions. */
  outcomes: Record<string, number>;
  events: ScaleEvent[];
  /** True when the store's newest-first event limit may have cut off older events of the range. */
  truncated: boolean;
}

/** The scale events (not holds) of a time range, oldest first, with counts. */
export function recordedActions(events: readonly ScaleEvent[], since: number, until: number, limitHit: boolean): RecordedActions {
  // Replacements of sick guests (auto-heal) keep the size, and recommendations (mode: recommend)
  // changed nothing: neither is a recorded action.
  const inRange = events.filter((e) => e.at >= since && e.at <= until && e.direction !== 'hold' && e.direction !== 'replace' && e.outcome !== 'recommended').sort((a, b) => a.at - b.at);
  const outcomes: Record<string, number> = {};
  for (const e of inRange) outcomes[e.outcome] = (outcomes[e.outcome] ?? 0) + 1;
  const oldest = events.reduce((m, e) => Math.min(m, e.at), Infinity);
  return {
    scaleOut: inRange.filter((e) => e.direction === 'scale-out').length,
    scaleIn: inRange.filter((e) => e.direction === 'scale-in').length,
    outcomes,
    events: inRange,
    truncated: limitHit && oldest > since,
  };
}

export interface Recording {
  samples: PoolSample[];
  actions: RecordedActions;
  timings: RecordedTimings;
}

export interface RecordedTimings {
  /** Median seconds from a guest's creation (cloning began) to healthy and in the balancer. */
  upSeconds?: number;
  /** Guests that median is over, and whether they were created in the replayed range (else: any the store kept). */
  upGuests: number;
  upInRange: boolean;
  /** Median seconds from a scale-in decision to its guest being gone (drain, stop, delete). */
  drainSeconds?: number;
  drainGuests: number;
  drainInRange: boolean;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Drain times of scale-in events: each retires `from - to` guests, the first to go `gone` after it of those healthy before it. */
function drainTimes(guests: readonly Guest[], events: readonly ScaleEvent[]): number[] {
  const gone = guests.filter((g) => g.state === 'gone' && g.healthyAt !== undefined).sort((a, b) => a.updatedAt - b.updatedAt);
  const used = new Set<string>();
  const out: number[] = [];
  for (const e of events.filter((x) => x.direction === 'scale-in' && x.outcome !== 'skipped' && x.outcome !== 'started' && x.outcome !== 'recommended').sort((a, b) => a.at - b.at)) {
    let want = e.from - e.to;
    for (const g of gone) {
      if (want <= 0) break;
      if (used.has(g.id) || g.healthyAt! > e.at || g.updatedAt < e.at) continue;
      used.add(g.id);
      out.push((g.updatedAt - e.at) / 1000);
      want--;
    }
  }
  return out;
}

/**
 * How long the recorded run's guests took to serve and to go, from the store's guest records
 * (createdAt -> healthyAt) and its scale-in events (decision -> guest gone). Guests created and
 * events made in [since, until] are preferred; when there are none, all the store kept for the
 * pool (history is kept for limits.history_retention).
 */
export function recordedTimings(guests: readonly Guest[], events: readonly ScaleEvent[], since: number, until: number): RecordedTimings {
  const inRange = (at: number): boolean => at >= since && at <= until;
  const upOf = (gs: readonly Guest[]): number[] => gs.filter((g) => g.healthyAt !== undefined && g.healthyAt >= g.createdAt).map((g) => (g.healthyAt! - g.createdAt) / 1000);
  const upsIn = upOf(guests.filter((g) => inRange(g.createdAt)));
  const ups = upsIn.length > 0 ? upsIn : upOf(guests);
  const drainsIn = drainTimes(guests, events.filter((e) => inRange(e.at)));
  const drains = drainsIn.length > 0 ? drainsIn : drainTimes(guests, events);
  const up = median(ups);
  const drain = median(drains);
  return {
    ...(up !== undefined ? { upSeconds: up } : {}),
    upGuests: ups.length,
    upInRange: upsIn.length > 0,
    ...(drain !== undefined ? { drainSeconds: drain } : {}),
    drainGuests: drains.length,
    drainInRange: drainsIn.length > 0,
  };
}

/** The most events the store hands out in one call (Store.listEvents clamps to 1..1000). */
const EVENT_LIMIT = 1000;

/**
 * Read a pool's recorded samples in [since, until] (inclusive) and its scale events.
 * Throws GH_NOT_FOUND for a pool the store does not know, GH_TRACE_INVALID when it has no
 * samples in the range; store failures propagate as GH_STORE_FAILED.
 */
export async function loadRecording(store: Store, pool: string, since?: number, until?: number): Promise<Recording> {
  const samples = await store.listSamples(pool, since, until);
  if (samples.length === 0) {
    const pools = (await store.listPools()).map((p) => p.pool);
    const anyAtAll = pools.includes(pool) || (await store.listSamples(pool)).length > 0;
    if (!anyAtAll) {
      throw new GridhostError(
        'GH_NOT_FOUND',
        `no pool "${pool}" in the ${store.name} store; ${pools.length > 0 ? `pools recorded: ${pools.join(', ')}` : 'it has no pools (has gridhost run against this store?)'}`,
        { pool, pools },
      );
    }
    const range = `${since === undefined ? 'the beginning' : new Date(since).toISOString()} and ${until === undefined ? 'now' : new Date(until).toISOString()}`;
    throw new GridhostError('GH_TRACE_INVALID', `pool "${pool}" has no recorded samples between ${range}; widen --since/--until (samples are kept for limits.sample_retention)`, {
      pool,
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    });
  }
  const events = await store.listEvents({ pool, limit: EVENT_LIMIT });
  const guests = await store.listGuests({ pool });
  const from = samples[0]!.at;
  const to = samples[samples.length - 1]!.at;
  return { samples, actions: recordedActions(events, from, to, events.length >= EVENT_LIMIT), timings: recordedTimings(guests, events, from, to) };
}

/**
 * A --since/--until value: an ISO-8601 date, or a duration (`2h`, `1d12h`, optionally followed
 * by `-ago`/` ago`) meaning that long before `now`. Undefined when it is neither.
 */
export function parseWhen(text: string, now: number, parseDurationMs: (s: string) => number | undefined): number | undefined {
  const t = text.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  const d = parseDurationMs(t.replace(/[\s-]ago$/, ''));
  return d === undefined ? undefined : now - d;
}

export interface ReplayTimes {
  bootSeconds: number;
  healthDelaySeconds: number;
  drainSeconds: number;
  /** Where the boot + health delay came from, and the drain, in words for the report. */
  bootFrom: string;
  drainFrom: string;
}

/**
 * The guest timings a replay simulates with: what the recorded run took (the store's time from
 * creation to healthy is boot + health delay, so the delay is 0), unless the command line gives
 * --boot / --health-delay (both then come from the flags or their defaults) or --drain.
 */
export function replayTimes(
  flags: { boot: number; healthDelay: number; drain: number; given: ReadonlySet<string> },
  t: RecordedTimings,
): ReplayTimes {
  const where = (n: number, what: string, inRange: boolean): string =>
    `recorded: median of ${n} ${what}${inRange ? ' in the replayed range' : ' the store kept (none in the replayed range)'}`;
  const bootGiven = flags.given.has('--boot') || flags.given.has('--health-delay');
  const boot =
    bootGiven || t.upSeconds === undefined
      ? { bootSeconds: flags.boot, healthDelaySeconds: flags.healthDelay, bootFrom: bootGiven ? 'given' : 'default; the store has no guest that became healthy' }
      : { bootSeconds: t.upSeconds, healthDelaySeconds: 0, bootFrom: where(t.upGuests, t.upGuests === 1 ? 'guest from creation to healthy' : 'guests from creation to healthy', t.upInRange) };
  const drainGiven = flags.given.has('--drain');
  const drain =
    drainGiven || t.drainSeconds === undefined
      ? { drainSeconds: flags.drain, drainFrom: drainGiven ? 'given' : 'default; the store has no guest retired by a scale-in' }
      : { drainSeconds: t.drainSeconds, drainFrom: where(t.drainGuests, t.drainGuests === 1 ? 'guest from scale-in to gone' : 'guests from scale-in to gone', t.drainInRange) };
  return { ...boot, ...drain };
}
