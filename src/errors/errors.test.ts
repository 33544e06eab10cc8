import test from 'ava';
import { ERROR_CODES, GridhostError, PolicyError, formatIssue, wrapError, type ErrorCode } from './errors.ts';

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

test('wrapError keeps a GridhostError and wraps anything else with its cause', (t) => {
  const inner = new GridhostError('GH_BOOT_FAILED');
  t.is(wrapError('GH_STORE_FAILED', inner), inner);
  const cause = new Error('disk full');
  const w = wrapError('GH_CLONE_FAILED', cause, { guest: 'web-1' });
  t.is(w.code, 'GH_CLONE_FAILED');
  t.is(w.cause, cause);
  t.regex(w.message, /disk full/);
  t.deepEqual(w.details, { guest: 'web-1' });
});
