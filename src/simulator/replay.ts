// Replay of what gridhost recorded for a pool: its stored samples become a load trace (the pool's
// total of one metric per tick) and a recorded supply curve (guests that reported), so an
// operator can rerun an incident through a changed policy and compare. Pure functions except
// loadRecording(), which only reads the store.
import type { PoolSample, ScaleEvent } from '../domain/types.ts';
import { GridhostError } from '../errors/errors.ts';
import type { Store } from '../store/store.ts';

export interface RecordedTrace {
  /** Pool total of the metric per step (requests per second for `rps`). */
  values: Float64Array;
  /** Guests that reported at each step: the serving supply of the recorded run. */
  guests: Int32Array;
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
  return { values, guests, stepSeconds, startAt, endAt, ticks: samples.length, filled, metrics: [...metrics].sort() };
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
  const inRange = events.filter((e) => e.at >= since && e.at <= until && e.direction !== 'hold').sort((a, b) => a.at - b.at);
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
  const from = samples[0]!.at;
  const to = samples[samples.length - 1]!.at;
  return { samples, actions: recordedActions(events, from, to, events.length >= EVENT_LIMIT) };
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
