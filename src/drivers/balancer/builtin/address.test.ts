import test from 'ava';
import { formatHostPort, parseHostPort } from './address.ts';

const cases: Array<[string, boolean, ReturnType<typeof parseHostPort>]> = [
  ['127.0.0.1:8080', false, { host: '127.0.0.1', port: 8080 }],
  ['web-1.local:80', false, { host: 'web-1.local', port: 80 }],
  ['[::1]:9000', false, { host: '::1', port: 9000 }],
  ['127.0.0.1:0', true, { host: '127.0.0.1', port: 0 }],
  ['127.0.0.1:0', false, undefined],
  ['127.0.0.1', false, undefined],
  [':8080', false, undefined],
  ['127.0.0.1:70000', false, undefined],
  ['127.0.0.1:http', false, undefined],
  ['::1:80', false, undefined],
  ['a b:80', false, undefined],
];

for (const [input, allowZero, expected] of cases) {
  test(`parseHostPort(${JSON.stringify(input)}, allowZero=${allowZero}) is ${JSON.stringify(expected)}`, (t) => {
    t.deepEqual(parseHostPort(input, allowZero), expected);
  });
}

test('formatHostPort brackets IPv6 hosts so the result parses back', (t) => {
  t.is(formatHostPort('127.0.0.1', 80), '127.0.0.1:80');
  t.is(formatHostPort('::1', 80), '[::1]:80');
  t.deepEqual(parseHostPort(formatHostPort('::1', 80)), { host: '::1', port: 80 });
});
