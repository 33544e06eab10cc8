// The log lines of the policy watcher's events. A file's issues are capped (one hostile file
// once wrote 40,000 lines), warnings are logged once per version, and a pool that loses its
// file by accident (the file became a directory, or now names another pool) is an error line:
// deleting the file is how an operator stops managing a pool, so that one only warns.

import { assertNever } from '../domain/types.ts';
import { formatIssue } from '../errors/errors.ts';
import type { PolicyEvent } from './policy-watcher.ts';

export interface PolicyLog {
  error(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

/** Issue lines logged per rejected file; the rest are counted in one more line. */
export const LOGGED_ISSUES_PER_FILE = 10;

export function logPolicyEvent(log: PolicyLog, ev: PolicyEvent): void {
  switch (ev.kind) {
    case 'invalid': {
      const shown = ev.issues.slice(0, LOGGED_ISSUES_PER_FILE);
      for (const issue of shown) log.error('policy rejected', { file: ev.file, issue: formatIssue(issue) });
      const more = ev.issues.length - shown.length + (ev.omitted ?? 0);
      if (more > 0) log.error(`policy rejected: ${more} more issues not logged; \`gridhost validate --all ${ev.file}\` lists them`, { file: ev.file, more });
      return;
    }
    case 'loaded':
      for (const w of ev.warnings.slice(0, LOGGED_ISSUES_PER_FILE)) log.warn('policy warning', { file: ev.policy.file, pool: ev.policy.pool, issue: formatIssue(w) });
      return;
    case 'removed':
      if (ev.reason !== 'deleted') {
        log.error(`pool ${ev.pool} is no longer managed: ${ev.detail}; its guests keep running (fix the file, or retire them with POST /api/pools/${ev.pool}/retire)`, {
          pool: ev.pool, file: ev.file, reason: ev.reason,
        });
      }
      return;
    case 'cleared':
      return;
    default:
      assertNever(ev, 'policy event');
  }
}
