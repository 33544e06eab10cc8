import test from 'ava';
import { mulberry32 as rng } from '../simulator/synthetic.ts';
import { fmt1 } from './format.ts';

test('fmt1 writes every value exactly as toFixed(1) does, ties and their neighbours included', (t) => {
  const rand = rng(13);
  const values: number[] = [0, -0, 0.05, 0.95, 1.45, 2.25, 9.95, 99.95, 999_999_999.94, 1e9, 5e-7, -0.04, -1.25, NaN, Infinity, -Infinity];
  for (let i = 0; i < 200_000; i++) values.push(rand() * 100, rand() * 1e6, rand(), rand() * 1.2e9);
  // Values on and around the ties (k/20 is a ...x5 for odd k) and around whole tenths.
  for (let k = 0; k < 40_000; k++) {
    const b = k / 20;
    values.push(b, b + 1e-9, b - 1e-9, b * (1 + Number.EPSILON), b * (1 - Number.EPSILON), k / 10, k / 3);
  }
  let wrong = 0;
  for (const x of values) {
    if (fmt1(x) !== x.toFixed(1)) {
      if (wrong++ < 5) t.is(fmt1(x), x.toFixed(1), `fmt1(${x})`);
    }
  }
  t.is(wrong, 0, `${wrong} of ${values.length} values written differently`);
});
