import test from 'ava';
import { ERROR_CODES, FOUND_MAX_CHARS, GridhostError, PolicyError, formatIssue, shortFound, wrapError, type ErrorCode } from './errors.ts';

for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
  test(`${code} carries its code, status and default message`, (t) => {
    const e = new GridhostError(code);
    t.is(e.code, code);
    t.is(e.status, ERROR_CODES[code].status);
    t.is(e.message, ERROR_CODES[code].message);
    t.true(e instanceof Error);
    t.deepEqual(e.toJSON(), { code, message: ERROR_CODES[code].message });
  });
}

test('every code has an HTTP status in the 4xx or 5xx range', (t) => {
  for (const [code, def] of Object.entries(ERROR_CODES)) {
    t.true(def.status >= 400 && def.status < 600, code);
  }
});

test('an issue formats as FILE:LINE:COL: path: message (found VALUE)', (t) => {
  t.is(
    formatIssue({ file: 'policies/web.yaml', line: 4, col: 6, path: 'rules.0.step', message: 'must be +n, -n or a percentage', found: 'lots' }),
    'policies/web.yaml:4:6: rules.0.step: must be +n, -n or a percentage (found "lots")',
  );
  t.is(formatIssue({ file: 'a.yaml', line: 1, col: 1, path: '', message: 'empty file' }), 'a.yaml:1:1: empty file');
});

test('PolicyError lists every issue in its message and details', (t) => {
  const issues = [
    { file: 'a.yaml', line: 1, col: 1, path: 'min', message: 'must be <= max', found: 9 },
    { file: 'a.yaml', line: 2, col: 1, path: 'bogus', message: 'unknown key' },
  ];
  const e = new PolicyError(issues);
  t.is(e.code, 'GH_POLICY_INVALID');
  t.is(e.message.split('\n').length, 2);
  t.deepEqual(e.issues, issues);
});

test('wrapError keeps a GridhostError (no details to add) and wraps anything else with its cause', (t) => {
  const inner = new GridhostError('GH_BOOT_FAILED');
  t.is(wrapError('GH_STORE_FAILED', inner), inner);
  t.is(wrapError('GH_STORE_FAILED', new GridhostError('GH_BOOT_FAILED', 'x', { guest: 'a' }), { guest: 'b' }).details.guest, 'a');
  const cause = new Error('disk full');
  const w = wrapError('GH_CLONE_FAILED', cause, { guest: 'web-1' });
  t.is(w.code, 'GH_CLONE_FAILED');
  t.is(w.cause, cause);
  t.regex(w.message, /disk full/);
  t.deepEqual(w.details, { guest: 'web-1' });
});

test('wrapError merges the caller\'s details into an existing GridhostError, the error\'s own facts winning', (t) => {
  const cause = new Error('xl: toolstack busy');
  const inner = new GridhostError('GH_STOP_FAILED', 'stopping web-1 failed', { host: 'dom0-a', guest: 'web-1' }, { cause });
  const w = wrapError('GH_INTERNAL', inner, { guest: 'other', pool: 'web' });
  t.deepEqual(w.details, { guest: 'web-1', host: 'dom0-a', pool: 'web' });
  t.is(w.code, 'GH_STOP_FAILED');
  t.is(w.status, 502);
  t.is(w.message, 'stopping web-1 failed');
  t.is(w.cause, cause);
  t.is(w.stack, inner.stack);
  t.true(w instanceof GridhostError);
  t.deepEqual(inner.details, { host: 'dom0-a', guest: 'web-1' }, 'the original is not changed');
  // Subclasses stay what they are.
  const pe = new PolicyError([{ file: 'a.yaml', line: 1, col: 1, path: 'min', message: 'bad' }]);
  const wp = wrapError('GH_INTERNAL', pe, { pool: 'web' });
  t.true(wp instanceof PolicyError);
  t.deepEqual((wp as PolicyError).issues, pe.issues);
  t.is(wp.details.pool, 'web');
});

test('a warning formats as FILE:LINE:COL: path: warning: message', (t) => {
  t.is(formatIssue({ file: 'm.yaml', line: 1, col: 7, path: 'pool', message: 'named unlike its pool', severity: 'warning' }), 'm.yaml:1:7: pool: warning: named unlike its pool');
});

test('a long found string is cut to a 40-character prefix that says how long it was', (t) => {
  const long = 'root:x:0:0:root:/root:/bin/bash\n'.repeat(40);
  t.is(shortFound(long), `${long.slice(0, FOUND_MAX_CHARS)}... (${long.length} characters)`);
  t.is(shortFound('a'.repeat(FOUND_MAX_CHARS)), 'a'.repeat(FOUND_MAX_CHARS));
  t.is(shortFound(42), 42);
  t.is(formatIssue({ file: 'a.yaml', line: 1, col: 1, path: '', message: 'm', found: long }), `a.yaml:1:1: m (found ${JSON.stringify(shortFound(long))})`);
});
