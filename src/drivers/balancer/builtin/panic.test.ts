import test from 'ava';
import { panicView, type PanicCandidate } from './panic.ts';

const up: PanicCandidate = { admin: 'ready', healthy: true, proven: true };
const fell: PanicCandidate = { admin: 'ready', healthy: false, proven: true };
const booting: PanicCandidate = { admin: 'ready', healthy: false, proven: false };
const draining: PanicCandidate = { admin: 'drain', healthy: false, proven: true };

const cases: Array<[string, PanicCandidate[], number, { failOpen: boolean; routable: number }]> = [
  ['every backend passing: no fail-open', [up, up], 50, { failOpen: false, routable: 2 }],
  ['half passing is not below a 50% threshold', [up, fell], 50, { failOpen: false, routable: 1 }],
  ['one of three passing is below 50%: every proven backend takes requests', [up, fell, fell], 50, { failOpen: true, routable: 3 }],
  ['none passing: fail-open over all proven backends', [fell, fell], 50, { failOpen: true, routable: 2 }],
  ['threshold 0 never fails open', [fell, fell], 0, { failOpen: false, routable: 0 }],
  ['backends that never passed a check do not count (a scale-out cannot tip the pool)', [up, booting, booting, booting], 50, { failOpen: false, routable: 1 }],
  ['a pool of only booting backends has nothing to fail open to', [booting, booting], 50, { failOpen: false, routable: 0 }],
  ['draining backends count neither way', [up, draining, draining], 50, { failOpen: false, routable: 1 }],
  ['an empty pool is not in fail-open', [], 50, { failOpen: false, routable: 0 }],
  ['threshold 100: a single failing backend of four is enough', [up, up, up, fell], 100, { failOpen: true, routable: 4 }],
];

for (const [title, backends, threshold, expected] of cases) {
  test(`panicView: ${title}`, (t) => {
    t.like(panicView(backends, threshold), expected);
  });
}
