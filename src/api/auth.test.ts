import test from 'ava';
import { tokenMatches, weakTokenReason } from './auth.ts';

test('a bearer header matches only the configured token', (t) => {
  const tok = 'a-long-random-secret-9f3c';
  t.true(tokenMatches(`Bearer ${tok}`, tok));
  t.true(tokenMatches(`bearer ${tok}`, tok), 'the scheme is case-insensitive');
  t.false(tokenMatches(`Bearer ${tok}x`, tok));
  t.false(tokenMatches(`Bearer ${tok.slice(0, -1)}`, tok));
  t.false(tokenMatches(tok, tok), 'no scheme');
  t.false(tokenMatches(`Basic ${tok}`, tok));
  t.false(tokenMatches(undefined, tok));
  t.false(tokenMatches(`Bearer ${tok}`, undefined), 'no token configured: nothing matches');
});

const refused: [string, RegExp][] = [
  ['', /is empty/],
  ['   ', /is empty/],
  ['changeme', /well-known/],
  ['CHANGEME', /well-known/],
  ['secret', /well-known/],
  ['password123', /well-known/],
  ['<secret>', /well-known/],
  ['gridhost', /well-known/],
  ['short-tok', /shorter than 12/],
  ['aaaaaaaaaaaaaaaa', /fewer than 4 distinct/],
  ['abababababababab', /fewer than 4 distinct/],
];
for (const [token, why] of refused) {
  test(`the write API refuses the token ${JSON.stringify(token)}`, (t) => {
    t.regex(weakTokenReason(token) ?? '', why);
  });
}

for (const token of ['xen-e2e-token', 'api-test-token-7c0ffee', '3f9a1c0e7b2d4a6f8e1c3b5d7f9a0c2e']) {
  test(`the token ${JSON.stringify(token)} is accepted`, (t) => {
    t.is(weakTokenReason(token), undefined);
  });
}
