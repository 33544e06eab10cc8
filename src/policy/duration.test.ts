import test from 'ava';
import { formatDuration, parseDuration, tryParseDuration } from './duration.ts';
import { GridhostError } from '../errors/errors.ts';

const valid: [string, number][] = [
  ['500ms', 500],
  ['5s', 5_000],
  ['2m', 120_000],
  ['1h', 3_600_000],
  ['1h30m', 5_400_000],
  ['1d', 86_400_000],
  ['1d2h3m4s5ms', 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5],
  ['0s', 0],
  ['1.5h', 5_400_000],
  ['0.5s', 500],
];
for (const [text, ms] of valid) {
  test(`duration "${text}" is ${ms} ms`, (t) => {
    t.is(parseDuration(text), ms);
  });
}

const invalid: [string, RegExp][] = [
  ['5', /needs a unit/],
  ['0', /needs a unit/],
  ['1.5', /needs a unit/],
  ['', /cannot be empty/],
  ['soon', /cannot read "soon"/],
  ['5 s', /cannot read/],
  ['5sec', /cannot read/],
  ['-5s', /cannot be negative/],
  ['+5s', /cannot read/],
  ['30m1h', /largest first/],
  ['1m1m', /largest first/],
  ['5y', /cannot read/],
  ['0.5ms', /whole number of milliseconds/],
  ['s', /cannot read/],
];
for (const [text, why] of invalid) {
  test(`duration ${JSON.stringify(text)} is rejected`, (t) => {
    const r = tryParseDuration(text);
    t.false(r.ok);
    if (!r.ok) t.regex(r.message, why);
    const e = t.throws(() => parseDuration(text), { instanceOf: GridhostError });
    t.is(e?.code, 'GH_BAD_REQUEST');
  });
}

test('formatDuration writes the shortest form and round-trips through parseDuration', (t) => {
  const cases: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [5_400_000, '1h30m'],
    [86_400_000 + 1, '1d1ms'],
    [300_000, '5m'],
  ];
  for (const [ms, text] of cases) {
    t.is(formatDuration(ms), text);
    t.is(parseDuration(text), ms);
  }
});

test('formatDuration refuses negative or fractional values', (t) => {
  t.throws(() => formatDuration(-1), { instanceOf: GridhostError });
  t.throws(() => formatDuration(1.5), { instanceOf: GridhostError });
});
