// Says once, as a warning, that a signal expired unserved since the loop last looked (the pool
// at max, paused, recommending, ...). Expiries while no process ran go unsaid: the API lists them.
import type { Policy } from '../domain/policy.ts';
import type { SignalBook } from '../decision/signal-book.ts';
import type { Telemetry } from './telemetry.ts';

export class SignalExpiry {
  /** When the record's signals were last looked at for expiries. */
  private checkedAt?: number;

  constructor(private readonly telemetry: Telemetry) {}

  report(policy: Policy, book: SignalBook | undefined, now: number): void {
    const since = this.checkedAt;
    this.checkedAt = now;
    if (since === undefined || book === undefined) return;
    for (const e of book.entries) {
      const rule = policy.signalRules?.find((r) => r.name === e.rule);
      if (rule === undefined || e.servedAt !== undefined) continue;
      const end = e.at + rule.expiresMs;
      if (end > since && end <= now) this.telemetry.warn('signal expired without being served', { pool: policy.pool, event: 'signal', rule: e.rule, key: e.key, from: e.from, expires: `${rule.expiresMs / 1000}s` });
    }
  }
}
