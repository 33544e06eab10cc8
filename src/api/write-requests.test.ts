import test from 'ava';
import { GridhostError } from '../errors/errors.ts';
import { checkGuestId, checkPlainWrite, checkScale, parseBody, parseIsoParam } from './write-requests.ts';

const refuse = (t: { throws: (fn: () => unknown, exp: object) => unknown }, fn: () => unknown, field: string, message: RegExp) => {
  const e = t.throws(fn, { instanceOf: GridhostError }) as GridhostError;
  if (e.code !== 'GH_BAD_REQUEST' || e.details.field !== field || !message.test(e.message)) throw new Error(`${e.code} ${JSON.stringify(e.details)} ${e.message}`);
};

test('an empty body is {}; a body must be a JSON object', (t) => {
  t.deepEqual(parseBody(''), {});
  t.deepEqual(parseBody('  \n'), {});
  t.deepEqual(parseBody('{"reason":"x"}'), { reason: 'x' });
  refuse(t, () => parseBody('{"reason":'), 'body', /^body: is not valid JSON/);
  for (const v of ['[]', '3', '"x"', 'null', 'true']) refuse(t, () => parseBody(v), 'body', /^body: must be a JSON object/);
});

test('scale: desired is required and a whole number; force a boolean; unknown fields are refused by name', (t) => {
  t.like(checkScale({ desired: 4 }, 'POST /scale', '127.0.0.1'), { desired: 4, force: false, req: { by: 'api client 127.0.0.1', reason: '' } });
  t.like(checkScale({ desired: 0, force: true, by: 'alice', reason: 'maintenance' }, 'POST /scale', 'x'), { desired: 0, force: true, req: { by: 'alice', reason: 'maintenance' } });
  refuse(t, () => checkScale({}, 'POST /scale', 'x'), 'desired', /^desired: is required/);
  for (const d of ['4', 4.5, -1, null, true, [4]]) refuse(t, () => checkScale({ desired: d }, 'POST /scale', 'x'), 'desired', /^desired: must be a whole number/);
  refuse(t, () => checkScale({ desired: 4, force: 'yes' }, 'POST /scale', 'x'), 'force', /^force: must be true or false/);
  refuse(t, () => checkScale({ desired: 4, desird: 5 }, 'POST /scale', 'x'), 'desird', /^desird: unknown field \(POST \/scale takes desired, force, reason, by\)/);
});

test('reason and by: strings, bounded, printable; by not empty', (t) => {
  refuse(t, () => checkPlainWrite({ reason: 42 }, 'POST /pause', 'x'), 'reason', /^reason: must be a string/);
  refuse(t, () => checkPlainWrite({ reason: 'x'.repeat(501) }, 'POST /pause', 'x'), 'reason', /at most 500 characters \(found 501\)/);
  refuse(t, () => checkPlainWrite({ reason: 'a\nb' }, 'POST /pause', 'x'), 'reason', /control characters/);
  refuse(t, () => checkPlainWrite({ by: '' }, 'POST /pause', 'x'), 'by', /^by: must not be empty/);
  refuse(t, () => checkPlainWrite({ by: 'x'.repeat(101) }, 'POST /pause', 'x'), 'by', /at most 100/);
  refuse(t, () => checkPlainWrite({ desired: 3 }, 'POST /pause', 'x'), 'desired', /^desired: unknown field \(POST \/pause takes reason, by\)/);
  t.deepEqual(checkPlainWrite({ reason: 'incident 42 — DB slow', by: 'alice@ops' }, 'POST /pause', 'x'), { by: 'alice@ops', reason: 'incident 42 — DB slow' });
});

test('guest ids and ISO times from the URL are checked, naming the parameter', (t) => {
  t.is(checkGuestId('web-3f2a9c1d'), 'web-3f2a9c1d');
  for (const g of ['', '../etc', 'Web-1', 'web 1', 'a'.repeat(101), '-web']) refuse(t, () => checkGuestId(g), 'guest', /^guest: must be a guest id/);
  t.is(parseIsoParam('since', '2026-01-05T09:00:00Z'), Date.UTC(2026, 0, 5, 9));
  t.is(parseIsoParam('since', undefined), undefined);
  for (const v of ['yesterday', '1700000000000', '2026-13-45T99:00:00Z', ['2026-01-05T09:00:00Z']]) refuse(t, () => parseIsoParam('until', v), 'until', /^until: must be an ISO 8601 time/);
});
