import test from 'ava';
import type { Decision, Guest, GuestState } from '../domain/types.ts';
import { recheck } from './actuator.ts';

const g = (id: string, state: GuestState, createdAt: number): Guest => ({ id, pool: 'web', state, driver: 'fake', host: 'h', createdAt, updatedAt: createdAt, meta: {} });
const decision = (from: number, to: number): Decision => ({
  pool: 'web', at: 0, action: to > from ? 'scale-out' : 'scale-in', from, to, reason: 'test',
  inputs: { series: {}, min: 2, max: 8, schedules: [] },
});

const recheckCases: [string, Guest[], Decision, boolean][] = [
  ['a decision made from the current size is carried out', [g('a', 'healthy', 1), g('b', 'healthy', 2)], decision(2, 3), true],
  ['a decision made from another size is refused', [g('a', 'healthy', 1), g('b', 'healthy', 2), g('c', 'healthy', 3)], decision(2, 3), false],
  ['a decision is refused while another change is in flight', [g('a', 'healthy', 1), g('b', 'booting', 2)], decision(2, 3), false],
  ['gone and failed guests do not count towards the size', [g('a', 'healthy', 1), g('b', 'healthy', 2), g('x', 'gone', 0), g('y', 'failed', 0)], decision(2, 1), true],
];
for (const [title, guests, d, ok] of recheckCases) {
  test(`recheck: ${title}`, (t) => {
    t.is(recheck(d, guests).ok, ok);
  });
}

const addCases: [string, Guest[], Decision, number, boolean][] = [
  ['with while_booting add, a scale-out may add to guests booting, counting them', [g('a', 'healthy', 1), g('b', 'booting', 2)], decision(2, 4), 0, true],
  ['with while_booting add, guests still being launched count too', [g('a', 'healthy', 1), g('b', 'booting', 2)], decision(3, 4), 1, true],
  ['with while_booting add, a scale-out made before another launch started is refused', [g('a', 'healthy', 1)], decision(1, 2), 1, false],
  ['with while_booting add, a scale-in still waits for guests booting', [g('a', 'healthy', 1), g('b', 'healthy', 2), g('c', 'cloning', 3)], decision(3, 2), 0, false],
  ['with while_booting add, a guest draining refuses a scale-out', [g('a', 'healthy', 1), g('b', 'draining', 2)], decision(1, 2), 0, false],
];
for (const [title, guests, d, launching, ok] of addCases) {
  test(`recheck: ${title}`, (t) => {
    t.is(recheck(d, guests, 'add', launching).ok, ok);
  });
}

test('recheck: with while_booting hold, guests being launched refuse any decision', (t) => {
  t.false(recheck(decision(2, 3), [g('a', 'healthy', 1)], 'hold', 1).ok);
});
