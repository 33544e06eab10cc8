import test from 'ava';
import { REDACTED, isSecretField, redact, redactString } from './redact.ts';

const strings: [string, string][] = [
  ['mongodb://gh:hunter2@db:27017/gridhost', 'mongodb://gh:***@db:27017/gridhost'],
  ['mongodb+srv://ops:p%40ss@cluster0/db?retryWrites=true', 'mongodb+srv://ops:***@cluster0/db?retryWrites=true'],
  ['GET http://admin:secret@127.0.0.1:9000/stats', 'GET http://admin:***@127.0.0.1:9000/stats'],
  ['Authorization: Bearer abc.DEF-123_x=', 'Authorization: Bearer ***'],
  ['mongodb://db:27017/gridhost (no credentials)', 'mongodb://db:27017/gridhost (no credentials)'],
  ['mongodb://useronly@db/gridhost', 'mongodb://useronly@db/gridhost'],
  ['cpu mean 83.1% > 70%', 'cpu mean 83.1% > 70%'],
];

for (const [input, want] of strings) {
  test(`redactString: ${input}`, (t) => {
    t.is(redactString(input), want);
  });
}

test('secret field names match case-insensitively, ignoring - and _, also as a suffix', (t) => {
  for (const n of ['token', 'Token', 'password', 'secret', 'authorization', 'Authorization', 'privateKey', 'private_key', 'passphrase', 'apiToken', 'client-secret', 'dbPassword']) {
    t.true(isSecretField(n), n);
  }
  for (const n of ['pool', 'tokens', 'tokenCount', 'user', 'privateKeyPath', 'hostKeyFingerprint']) t.false(isSecretField(n), n);
});

test('redact copies deeply, replacing secret fields and leaving the input untouched', (t) => {
  const input = { a: [{ password: 'x', keep: 1 }], m: new Map([['token', 't']]), when: new Date(0), n: null, big: 10n };
  const out = redact(input);
  t.deepEqual(out, { a: [{ password: REDACTED, keep: 1 }], m: { token: REDACTED }, when: '1970-01-01T00:00:00.000Z', n: null, big: '10' });
  t.is(input.a[0]!.password, 'x');
});

test('the same object seen twice (not a cycle) is shown twice', (t) => {
  const shared = { v: 1 };
  t.deepEqual(redact({ a: shared, b: shared }), { a: { v: 1 }, b: { v: 1 } });
});
