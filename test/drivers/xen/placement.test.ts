import test from 'ava';
import { placeGuest, type HostLoad } from '../../../src/drivers/xen/placement.ts';
import { GridhostError } from '../../../src/errors/errors.ts';

const h = (name: string, freeMemoryMb: number, guestsOfPool = 0, up = true): HostLoad => ({ name, up, freeMemoryMb, guestsOfPool });

const CASES: Array<[string, HostLoad[], number, string]> = [
  ['fewest guests of the pool wins over more free memory', [h('a', 4000, 2), h('b', 1000, 1)], 128, 'b'],
  ['among equal spread, the most free memory wins', [h('a', 1000, 1), h('b', 3000, 1)], 128, 'b'],
  ['ties go to the first name', [h('b', 1000), h('a', 1000)], 128, 'a'],
  ['a down host is skipped even when it is emptiest', [h('a', 9000, 0, false), h('b', 500, 3)], 128, 'b'],
  ['a host without room is skipped even when the pool is not on it', [h('a', 100, 0), h('b', 500, 3)], 128, 'b'],
  ['exactly enough free memory is enough', [h('a', 128)], 128, 'a'],
];
for (const [title, hosts, need, expected] of CASES) {
  test(title, (t) => {
    t.is(placeGuest(hosts, need), expected);
  });
}

test('never over-commits: no host with room is GH_OUT_OF_CAPACITY listing what each host had', (t) => {
  const e = t.throws(() => placeGuest([h('a', 127), h('b', 9000, 0, false)], 128), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_OUT_OF_CAPACITY');
  t.true(e?.message.includes('a 127 MiB free'));
  t.true(e?.message.includes('b down'));
});

test('no hosts at all is GH_OUT_OF_CAPACITY', (t) => {
  t.is(t.throws(() => placeGuest([], 1), { instanceOf: GridhostError })?.code, 'GH_OUT_OF_CAPACITY');
});

const hot = (name: string, freeMemoryMb: number, cpuRatio: number, guestsOfPool = 0): HostLoad => ({ name, up: true, freeMemoryMb, guestsOfPool, cpuRatio });
const CONTENTION: Array<[string, HostLoad[], string]> = [
  ['with contention, a saturated host comes after one that is not, whatever the spread', [hot('a', 4000, 0.97, 0), hot('b', 1000, 0.4, 3)], 'b'],
  ['with contention, exactly at the threshold is saturated', [hot('a', 4000, 0.9), hot('b', 1000, 0.89, 2)], 'b'],
  ['with contention, a host not measured is not taken for saturated', [h('a', 1000, 2), hot('b', 4000, 0.95)], 'a'],
  ['with contention, a saturated host with room is still taken when it is the only one', [hot('a', 4000, 0.99), hot('b', 100, 0.1)], 'a'],
];
for (const [title, hosts, expected] of CONTENTION) {
  test(title, (t) => {
    t.is(placeGuest(hosts, 128, 0.9), expected);
  });
}

test('without contention CPU use does not change the choice', (t) => {
  t.is(placeGuest([hot('a', 4000, 0.97, 0), hot('b', 1000, 0.4, 3)], 128), 'a');
});
