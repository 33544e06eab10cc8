import test from 'ava';
import type { Decision, Guest, GuestState } from '../domain/types.ts';
import { pickVictims, recheck } from './actuator.ts';

const g = (id: string, state: GuestState, createdAt: number): Guest => ({ id, pool: 'web', state, driver: 'fake', host: 'h', createdAt, updatedAt: createdAt, meta: {} });
const decision = (from: number, to: number): Decision => ({
  pool: 'web', at: 0, direction: to > from ? 'scale-out' : to < from ? 'scale-in' : 'hold', from, to, reason: 'test',
  inputs: { series: {}, min: 2, max: 8, schedules: [] },
});

test('scale-in retires the newest healthy guests first', (t) => {
  const guests = [g('a', 'healthy', 1), g('b', 'healthy', 3), g('c', 'healthy', 2)];
  t.deepEqual(pickVictims(guests, 2).map((x) => x.id), ['b', 'c']);
});

test('scale-in never picks a guest that is not healthy', (t) => {
  const guests = [g('a', 'healthy', 1), g('b', 'booting', 9), g('c', 'draining', 8)];
  t.deepEqual(pickVictims(guests, 3).map((x) => x.id), ['a']);
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
