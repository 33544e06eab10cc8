import test from 'ava';
import type { Guest, GuestState } from '../domain/types.ts';
import { pickWarm, planWarmPool, warmPoolCounts } from './warm-pool.ts';

const g = (id: string, state: GuestState, createdAt = 0): Guest => ({ id, pool: 'web', state, driver: 'fake', host: 'h', createdAt, updatedAt: createdAt, meta: {} });

test('an empty warm pool makes its whole target', (t) => {
  t.deepEqual(planWarmPool(2, [g('a', 'healthy'), g('b', 'healthy')]), { make: 2, trim: [] });
});

test('guests being made for the warm pool count as coming: none is made twice', (t) => {
  t.is(planWarmPool(2, [g('a', 'warming'), g('b', 'warm')]).make, 0);
  t.is(planWarmPool(3, [g('a', 'warming'), g('b', 'warm')]).make, 1);
});

test('a warm guest taken by a scale-out (now booting) is made again', (t) => {
  t.is(planWarmPool(2, [g('a', 'booting'), g('b', 'warm')]).make, 1);
});

test('warm guests above a lowered target are trimmed, oldest first', (t) => {
  const plan = planWarmPool(1, [g('new', 'warm', 30), g('old', 'warm', 10), g('mid', 'warm', 20)]);
  t.is(plan.make, 0);
  t.deepEqual(plan.trim.map((x) => x.id), ['old', 'mid']);
});

test('no warm pool (target 0) trims every warm guest but leaves guests still warming to finish', (t) => {
  const plan = planWarmPool(0, [g('a', 'warm', 1), g('b', 'warming', 2)]);
  t.deepEqual(plan, { make: 0, trim: [g('a', 'warm', 1)] });
});

test('a scale-out takes the oldest warm guests, never more than asked, and none another is taking', (t) => {
  const guests = [g('c', 'warm', 3), g('a', 'warm', 1), g('b', 'warm', 2), g('h', 'healthy', 0), g('w', 'warming', 0)];
  t.deepEqual(pickWarm(guests, 2).map((x) => x.id), ['a', 'b']);
  t.deepEqual(pickWarm(guests, 5).map((x) => x.id), ['a', 'b', 'c']);
  t.deepEqual(pickWarm(guests, 2, new Set(['a'])).map((x) => x.id), ['b', 'c']);
  t.deepEqual(pickWarm(guests, 0), []);
});

test('warm pool counts are the target and the warm and warming guests, nothing else', (t) => {
  t.deepEqual(warmPoolCounts({ warmPool: { size: 3 } }, [g('a', 'warm'), g('b', 'warming'), g('c', 'healthy'), g('d', 'booting')]), { target: 3, warm: 1, warming: 1 });
  t.deepEqual(warmPoolCounts({}, [g('a', 'healthy')]), { target: 0, warm: 0, warming: 0 });
});

test('outdated warm guests (another template or image) are trimmed and made again', (t) => {
  const plan = planWarmPool(2, [g('old', 'warm', 1), g('cur', 'warm', 2)], new Set(['old']));
  t.is(plan.make, 1);
  t.deepEqual(plan.trim.map((x) => x.id), ['old']);
});

test('warm guests on closed hosts are trimmed and not counted; one warming there does not count either', (t) => {
  const on = (id: string, state: 'warm' | 'warming', host: string, at = 1) => ({ ...g(id, state, at), host });
  const plan = planWarmPool(2, [on('a', 'warm', 'closed', 1), on('b', 'warm', 'open', 2), on('c', 'warming', 'closed', 3)], new Set(), new Set(['closed']));
  t.is(plan.make, 1, 'the closed host\'s warm and warming guests are not coming');
  t.deepEqual(plan.trim.map((x) => x.id), ['a']);
});
