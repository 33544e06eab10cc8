import test from 'ava';
import type { Guest, PoolSample, ScaleEvent } from '../../src/domain/types.ts';
import { estimateCapacity, parseWhen, recordedActions, recordedTimings, recordedTrace, replayTimes } from '../../src/simulator/replay.ts';

const T0 = Date.UTC(2026, 0, 6, 3, 0, 0);
const tick = (s: number, guests: Record<string, Record<string, number>>): PoolSample => ({ at: T0 + s * 1000, guests });

test('the replay load is the per-tick sum of the metric over guests, the supply the guests that reported', (t) => {
  const r = recordedTrace(
    [
      tick(0, { a: { rps: 10, cpu: 20 }, b: { rps: 12, cpu: 24 } }),
      tick(5, { a: { rps: 30, cpu: 60 }, b: { rps: 31 }, c: { rps: 29 } }),
      tick(10, { a: { rps: 5 } }),
    ],
    'rps',
    5,
  );
  t.is(r.stepSeconds, 5);
  t.is(r.startAt, T0);
  t.deepEqual(Array.from(r.values), [22, 90, 5]);
  t.deepEqual(Array.from(r.guests), [2, 3, 1]);
  t.is(r.filled, 0);
  t.deepEqual(r.metrics, ['cpu', 'rps']);
});

test('the step is the median tick spacing; missing ticks and ticks without the metric repeat the previous step', (t) => {
  const r = recordedTrace(
    [
      tick(0, { a: { rps: 1 } }),
      tick(10, { a: { rps: 2 } }),
      tick(20, { a: { rps: 3 } }),
      // 30 missing (gridhost down)
      tick(40, { a: { cpu: 50 } }), // no rps: unusable
      tick(50, { a: { rps: 6 }, b: { rps: 1 } }),
    ],
    'rps',
    5,
  );
  t.is(r.stepSeconds, 10);
  t.deepEqual(Array.from(r.values), [1, 2, 3, 3, 3, 7]);
  t.deepEqual(Array.from(r.guests), [1, 1, 1, 1, 1, 2]);
  t.is(r.filled, 2);
  // The replay decides at the recorded tick times; a filled step has none.
  t.deepEqual(Array.from(r.tickAt), [T0, T0 + 10_000, T0 + 20_000, NaN, NaN, T0 + 50_000]);
});

test('each step keeps the time of its recorded tick, off the grid as the loop\'s timers were', (t) => {
  const r = recordedTrace([tick(0, { a: { rps: 1 } }), tick(1.04, { a: { rps: 2 } }), tick(2.31, { a: { rps: 3 } })], 'rps', 1);
  t.is(r.stepSeconds, 1);
  t.deepEqual(Array.from(r.tickAt), [T0, T0 + 1_040, T0 + 2_310]);
});

test('a single tick uses the fallback step', (t) => {
  const r = recordedTrace([tick(0, { a: { rps: 4 } })], 'rps', 15);
  t.is(r.stepSeconds, 15);
  t.deepEqual(Array.from(r.values), [4]);
});

test('a metric no guest recorded is GH_TRACE_INVALID naming the recorded metrics', (t) => {
  const e = t.throws(() => recordedTrace([tick(0, { a: { cpu: 1, inflight: 2 } })], 'rps', 5));
  t.is((e as { code?: string }).code, 'GH_TRACE_INVALID');
  t.regex(e!.message, /"rps".*recorded metrics: cpu, inflight.*--metric/);
});

test('capacity is estimated as the median of metric / cpu share over values with cpu in [10, 95]', (t) => {
  const samples = [
    tick(0, { a: { rps: 25, cpu: 50 }, b: { rps: 30, cpu: 60 } }), // 50, 50
    tick(5, { a: { rps: 40, cpu: 80 }, b: { rps: 1, cpu: 5 } }), // 50; idle left out
    tick(10, { a: { rps: 200, cpu: 100 } }), // saturated: left out
  ];
  t.is(estimateCapacity(samples, 'rps'), 50);
  t.is(estimateCapacity(samples, 'cpu'), 100);
  t.is(estimateCapacity([tick(0, { a: { rps: 25 } })], 'rps'), undefined);
});

test('recorded actions count scale events in the range only, never holds', (t) => {
  const ev = (s: number, direction: ScaleEvent['direction'], outcome: ScaleEvent['outcome']): ScaleEvent => ({
    pool: 'web',
    at: T0 + s * 1000,
    direction,
    from: 2,
    to: direction === 'scale-out' ? 3 : direction === 'scale-in' ? 1 : 2,
    reason: 'x',
    inputs: { series: {}, min: 2, max: 8, schedules: [] },
    outcome,
  });
  const a = recordedActions([ev(-10, 'scale-out', 'done'), ev(5, 'scale-out', 'done'), ev(6, 'hold', 'skipped'), ev(20, 'scale-in', 'failed'), ev(100, 'scale-in', 'done')], T0, T0 + 60_000, false);
  t.is(a.scaleOut, 1);
  t.is(a.scaleIn, 1);
  t.deepEqual(a.outcomes, { done: 1, failed: 1 });
  t.deepEqual(a.events.map((e) => e.at), [T0 + 5000, T0 + 20_000]);
  t.false(a.truncated);
  t.true(recordedActions([ev(5, 'scale-out', 'done')], T0, T0 + 60_000, true).truncated);
});

const dur = (s: string): number | undefined => ({ '2h': 7_200_000, '30m': 1_800_000 } as Record<string, number>)[s];
const whens: [string, number | undefined][] = [
  ['2026-01-06T03:00:00Z', T0],
  ['2h', T0 - 7_200_000],
  ['30m-ago', T0 - 1_800_000],
  ['30m ago', T0 - 1_800_000],
  ['yesterday', undefined],
  ['2026-13-45', undefined],
];
for (const [text, want] of whens) {
  test(`--since/--until "${text}" reads as ${want === undefined ? 'invalid' : new Date(want).toISOString()}`, (t) => {
    t.is(parseWhen(text, T0, dur), want);
  });
}

const guest = (id: string, createdS: number, upS: number | undefined, goneS?: number): Guest => ({
  id,
  pool: 'web',
  state: upS === undefined ? 'failed' : goneS === undefined ? 'healthy' : 'gone',
  driver: 'local',
  host: 'localhost',
  createdAt: T0 + createdS * 1000,
  ...(upS !== undefined ? { healthyAt: T0 + (createdS + upS) * 1000 } : {}),
  updatedAt: T0 + (goneS ?? createdS + (upS ?? 1)) * 1000,
  meta: {},
});
const scaleIn = (s: number, from: number, to: number, outcome: ScaleEvent['outcome'] = 'done'): ScaleEvent => ({
  pool: 'web',
  at: T0 + s * 1000,
  direction: 'scale-in',
  from,
  to,
  reason: 'x',
  inputs: { series: {}, min: 2, max: 8, schedules: [] },
  outcome,
});

test('recorded boot time: median creation-to-healthy of the guests created in the range; failed launches left out', (t) => {
  const r = recordedTimings([guest('a', -7200, 40), guest('b', 10, 1), guest('c', 20, 3), guest('d', 30, 2), guest('e', 40, undefined)], [], T0, T0 + 3_600_000);
  t.is(r.upSeconds, 2);
  t.is(r.upGuests, 3);
  t.true(r.upInRange);
});

test('recorded boot time falls back to every guest the store kept when none was created in the range', (t) => {
  const r = recordedTimings([guest('a', -7200, 40), guest('b', -7000, 20)], [], T0, T0 + 3_600_000);
  t.is(r.upSeconds, 30);
  t.false(r.upInRange);
  t.is(recordedTimings([], [], T0, T0 + 1).upSeconds, undefined);
});

test('recorded drain time: a scale-in retires from - to guests, the first healthy before it to go after it; skipped events retire none', (t) => {
  const guests = [
    guest('a', -100, 1, 70), // retired by the scale-in at 60: 10 s
    guest('b', -100, 1, 74), // and this one: 14 s
    guest('c', -100, 1, 500), // still there after the first, retired by the one at 480: 20 s
    guest('d', 65, 1, 200), // healthy after the scale-in at 60, gone with nothing retiring it
    guest('e', -100, 1, 50), // gone before any scale-in
  ];
  const r = recordedTimings(guests, [scaleIn(60, 4, 2), scaleIn(100, 2, 1, 'skipped'), scaleIn(480, 2, 1)], T0, T0 + 3_600_000);
  t.is(r.drainGuests, 3);
  t.is(r.drainSeconds, 14);
  t.true(r.drainInRange);
});

test('replay timings: recorded unless --boot/--health-delay or --drain is given', (t) => {
  const rec = { upSeconds: 1.2, upGuests: 3, upInRange: true, drainSeconds: 8, drainGuests: 2, drainInRange: false };
  const flags = (given: string[]) => ({ boot: 30, healthDelay: 5, drain: 10, given: new Set(given) });
  t.like(replayTimes(flags([]), rec), { bootSeconds: 1.2, healthDelaySeconds: 0, drainSeconds: 8 });
  t.regex(replayTimes(flags([]), rec).drainFrom, /the store kept \(none in the replayed range\)/);
  t.like(replayTimes(flags(['--boot']), rec), { bootSeconds: 30, healthDelaySeconds: 5, bootFrom: 'given', drainSeconds: 8 });
  t.like(replayTimes(flags(['--health-delay']), rec), { bootSeconds: 30, healthDelaySeconds: 5, bootFrom: 'given' });
  t.like(replayTimes(flags(['--drain']), rec), { bootSeconds: 1.2, drainSeconds: 10, drainFrom: 'given' });
  t.like(replayTimes(flags([]), { upGuests: 0, upInRange: false, drainGuests: 0, drainInRange: false }), { bootSeconds: 30, healthDelaySeconds: 5, drainSeconds: 10 });
});
