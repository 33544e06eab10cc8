import test from 'ava';
import { makePolicy } from '../decision/test-helpers.ts';
import type { ValidationIssue } from '../errors/errors.ts';
import { LOGGED_ISSUES_PER_FILE, logPolicyEvent } from './policy-log.ts';

function recorder() {
  const lines: { level: string; message: string; meta?: Record<string, unknown> }[] = [];
  return {
    lines,
    log: {
      error: (message: string, meta?: Record<string, unknown>) => lines.push({ level: 'error', message, meta }),
      warn: (message: string, meta?: Record<string, unknown>) => lines.push({ level: 'warn', message, meta }),
    },
  };
}

const issue = (i: number): ValidationIssue => ({ file: '/p/web.yaml', line: i + 1, col: 1, path: `k${i}`, message: 'unknown key', found: `k${i}` });

test('the issues of one file are capped in the log, with one line counting the rest', (t) => {
  const r = recorder();
  logPolicyEvent(r.log, { kind: 'invalid', file: '/p/web.yaml', issues: Array.from({ length: 30_000 }, (_, i) => issue(i)) });
  t.is(r.lines.length, LOGGED_ISSUES_PER_FILE + 1);
  t.deepEqual(r.lines[0], { level: 'error', message: 'policy rejected', meta: { file: '/p/web.yaml', issue: '/p/web.yaml:1:1: k0: unknown key (found "k0")' } });
  t.deepEqual(r.lines[LOGGED_ISSUES_PER_FILE], {
    level: 'error',
    message: `policy rejected: ${30_000 - LOGGED_ISSUES_PER_FILE} more issues not logged; \`gridhost validate --all /p/web.yaml\` lists them`,
    meta: { file: '/p/web.yaml', more: 30_000 - LOGGED_ISSUES_PER_FILE },
  });
});

test('a few issues are all logged, with no count line', (t) => {
  const r = recorder();
  logPolicyEvent(r.log, { kind: 'invalid', file: '/p/web.yaml', issues: [issue(0), issue(1)] });
  t.deepEqual(r.lines.map((l) => l.meta?.issue), ['/p/web.yaml:1:1: k0: unknown key (found "k0")', '/p/web.yaml:2:1: k1: unknown key (found "k1")']);
});

test('a pool that loses its file by accident is an error line naming why; a deleted file is left to the orchestrator\'s warning', (t) => {
  const r = recorder();
  logPolicyEvent(r.log, { kind: 'removed', pool: 'web', file: '/p/web.yaml', reason: 'not-a-file', detail: '/p/web.yaml is a directory, not a policy file' });
  logPolicyEvent(r.log, { kind: 'removed', pool: 'shop', file: '/p/shop.yaml', reason: 'pool-changed', detail: '/p/shop.yaml now defines pool other' });
  logPolicyEvent(r.log, { kind: 'removed', pool: 'api', file: '/p/api.yaml', reason: 'deleted', detail: '/p/api.yaml was deleted' });
  t.deepEqual(r.lines, [
    {
      level: 'error',
      message: 'pool web is no longer managed: /p/web.yaml is a directory, not a policy file; its guests keep running (fix the file, or retire them with POST /api/pools/web/retire)',
      meta: { pool: 'web', file: '/p/web.yaml', reason: 'not-a-file' },
    },
    {
      level: 'error',
      message: 'pool shop is no longer managed: /p/shop.yaml now defines pool other; its guests keep running (fix the file, or retire them with POST /api/pools/shop/retire)',
      meta: { pool: 'shop', file: '/p/shop.yaml', reason: 'pool-changed' },
    },
  ]);
});

test('the warnings of a loaded policy are warn lines', (t) => {
  const r = recorder();
  const w: ValidationIssue = { file: '/p/mismatch.yaml', line: 1, col: 7, path: 'pool', message: 'named unlike its pool', severity: 'warning' };
  logPolicyEvent(r.log, { kind: 'loaded', policy: makePolicy({ file: '/p/mismatch.yaml', pool: 'other' }), warnings: [w] });
  t.deepEqual(r.lines, [{ level: 'warn', message: 'policy warning', meta: { file: '/p/mismatch.yaml', pool: 'other', issue: '/p/mismatch.yaml:1:7: pool: warning: named unlike its pool' } }]);
});

test('issues a worker did not carry are counted in the last line too', (t) => {
  const r = recorder();
  logPolicyEvent(r.log, { kind: 'invalid', file: '/p/web.yaml', issues: Array.from({ length: 100 }, (_, i) => issue(i)), omitted: 4900 });
  t.is(r.lines.length, LOGGED_ISSUES_PER_FILE + 1);
  t.is(r.lines.at(-1)?.meta?.more, 4990);
});
