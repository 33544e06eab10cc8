import test from 'ava';
import type { PoolSample, ScaleEvent } from '../../src/domain/types.ts';
import { estimateCapacity, parseWhen, recordedActions, recordedTrace } from '../../src/simulator/replay.ts';

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
