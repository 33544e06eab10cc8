import test from 'ava';
import { pickBackend, type PickCandidate } from './pick-backend.ts';

const r = (active: number): PickCandidate => ({ admin: 'ready', healthy: true, active });
const drain = (active: number): PickCandidate => ({ admin: 'drain', healthy: true, active });
const down = (active: number): PickCandidate => ({ admin: 'ready', healthy: false, active });

const cases: Array<[string, PickCandidate[], number, number]> = [
  // title, backends, cursor, expected index
  ['an empty pool has no pick', [], 0, -1],
  ['the least outstanding backend wins', [r(3), r(1), r(2)], 0, 1],
  ['the least outstanding wins regardless of the cursor', [r(3), r(1), r(2)], 2, 1],
  ['ties go to the first at or after the cursor', [r(0), r(0), r(0)], 1, 1],
  ['the cursor wraps around the list', [r(0), r(0), r(0)], 5, 2],
  ['ties before the cursor are reached after wrapping', [r(0), r(4), r(4)], 1, 0],
  ['a draining backend is never picked even when idle', [drain(0), r(5)], 0, 1],
  ['an unhealthy backend is never picked even when idle', [down(0), r(5)], 0, 1],
  ['no ready healthy backend gives no pick', [drain(0), down(0)], 0, -1],
  ['a fresh backend (0 in flight) beats busy ones', [r(2), r(2), r(0)], 0, 2],
];

for (const [title, backends, cursor, expected] of cases) {
  test(`pickBackend: ${title}`, (t) => {
    t.is(pickBackend(backends, cursor), expected);
  });
}

test('pickBackend: skip excludes the backend a retry moves away from', (t) => {
  const list = [r(0), r(1)];
  t.is(pickBackend(list, 0), 0);
  t.is(pickBackend(list, 0, list[0]), 1);
  t.is(pickBackend([r(0)], 0, undefined), 0);
  const only = [r(0)];
  t.is(pickBackend(only, 0, only[0]), -1);
});

test('pickBackend: advancing the cursor after each pick spreads idle traffic round-robin', (t) => {
  const list = [r(0), r(0), r(0)];
  const seen: number[] = [];
  let cursor = 0;
  for (let k = 0; k < 6; k++) {
    const i = pickBackend(list, cursor);
    seen.push(i);
    cursor = i + 1;
  }
  t.deepEqual(seen, [0, 1, 2, 0, 1, 2]);
});

const proven = (active: number): PickCandidate => ({ admin: 'ready', healthy: false, proven: true, active });

const failOpenCases: Array<[string, PickCandidate[], number]> = [
  ['fail-open picks a proven unhealthy backend', [proven(0)], 0],
  ['fail-open still prefers the least outstanding, healthy or not', [r(2), proven(0)], 1],
  ['fail-open never picks a backend that has not passed a check yet', [down(0), proven(3)], 1],
  ['fail-open never picks a draining backend', [{ admin: 'drain', healthy: false, proven: true, active: 0 }], -1],
];

for (const [title, backends, expected] of failOpenCases) {
  test(`pickBackend: ${title}`, (t) => {
    t.is(pickBackend(backends, 0, undefined, true), expected);
  });
}

test('pickBackend: outside fail-open a proven but unhealthy backend is not picked', (t) => {
  t.is(pickBackend([proven(0)], 0), -1);
});
