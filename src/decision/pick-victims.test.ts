import test from 'ava';
import type { Guest, GuestState } from '../domain/types.ts';
import { pickVictims, type VictimFacts, type VictimOrder } from './pick-victims.ts';

const g = (id: string, state: GuestState, createdAt: number, host = 'h'): Guest => ({ id, pool: 'web', state, driver: 'fake', host, createdAt, updatedAt: createdAt, meta: {} });
const ids = (gs: readonly Guest[]) => gs.map((x) => x.id);

test('scale-in retires the newest healthy guests first', (t) => {
  const guests = [g('a', 'healthy', 1), g('b', 'healthy', 3), g('c', 'healthy', 2)];
  t.deepEqual(ids(pickVictims(guests, 2)), ['b', 'c']);
  t.deepEqual(ids(pickVictims(guests, 2, { order: 'newest' })), ['b', 'c'], 'newest is the default');
});

test('scale-in never picks a guest that is not healthy', (t) => {
  const guests = [g('a', 'healthy', 1), g('b', 'booting', 9), g('c', 'draining', 8)];
  for (const order of ['newest', 'oldest', 'least-busy', 'spread'] as VictimOrder[]) {
    t.deepEqual(ids(pickVictims(guests, 3, { order })), ['a'], order);
  }
});

test('guests created at the same time are picked by id, highest first, so the choice is stable', (t) => {
  const guests = [g('a', 'healthy', 5), g('c', 'healthy', 5), g('b', 'healthy', 5)];
  t.deepEqual(ids(pickVictims(guests, 2)), ['c', 'b']);
});

test('oldest retires the longest-running guests first', (t) => {
  const guests = [g('a', 'healthy', 2), g('b', 'healthy', 3), g('c', 'healthy', 1)];
  t.deepEqual(ids(pickVictims(guests, 2, { order: 'oldest' })), ['c', 'a']);
});

test('least-busy retires the guests with the fewest requests in flight; unknown counts as busiest; ties go newest first', (t) => {
  const guests = [g('a', 'healthy', 1), g('b', 'healthy', 2), g('c', 'healthy', 3), g('d', 'healthy', 4)];
  const facts: VictimFacts = { inflight: { a: 0, b: 5, c: 0 } };
  t.deepEqual(ids(pickVictims(guests, 4, { order: 'least-busy', facts })), ['c', 'a', 'b', 'd']);
  t.deepEqual(ids(pickVictims(guests, 2, { order: 'least-busy' })), ['d', 'c'], 'without counts it is newest first');
});

test('spread retires from the host with the most of the pool left, re-counting after each pick', (t) => {
  // h1 has 3, h2 has 2 (one of them booting, which will serve there), h3 has 1
  const guests = [
    g('a', 'healthy', 1, 'h1'), g('b', 'healthy', 2, 'h1'), g('c', 'healthy', 3, 'h1'),
    g('d', 'healthy', 9, 'h2'), g('e', 'booting', 10, 'h2'),
    g('f', 'healthy', 8, 'h3'),
  ];
  // 1st: h1 (3) -> newest there, c; now h1 2, h2 2: newest of a, b, d is d; then h1 (2) -> b
  t.deepEqual(ids(pickVictims(guests, 3, { order: 'spread' })), ['c', 'd', 'b']);
});

test('guests failing the balancer check go first, then outdated ones, whatever the order', (t) => {
  const guests = [g('a', 'healthy', 1), g('b', 'healthy', 2), g('c', 'healthy', 3), g('d', 'healthy', 4)];
  const facts: VictimFacts = { unhealthy: ['a'], outdated: ['b', 'a'], inflight: { a: 9, b: 9, c: 0, d: 1 } };
  for (const order of ['newest', 'oldest', 'least-busy', 'spread'] as VictimOrder[]) {
    t.deepEqual(ids(pickVictims(guests, 2, { order, facts })), ['a', 'b'], order);
  }
  t.deepEqual(ids(pickVictims(guests, 3, { order: 'oldest', facts: { outdated: ['d', 'c'] } })), ['c', 'd', 'a']);
});

test('asking for more victims than healthy guests returns every healthy guest; none for n <= 0', (t) => {
  const guests = [g('a', 'healthy', 1), g('b', 'healthy', 2)];
  t.is(pickVictims(guests, 5).length, 2);
  t.deepEqual(pickVictims(guests, 0), []);
  t.deepEqual(pickVictims(guests, -1), []);
});
