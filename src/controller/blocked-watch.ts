// Follows the pool balancer's blocked() (it cannot register or drain guests now) and reports each
// change once; a scale the block holds back is reported once per block.
import type { GridhostError } from '../errors/errors.ts';
import type { Telemetry } from './telemetry.ts';
import type { BlockedFact } from './pool-status.ts';

export class BlockedWatch {
  /** Set while the balancer cannot take the pool's guests. */
  current?: BlockedFact;
  private skipReportedAt?: number;

  constructor(private readonly telemetry: Telemetry, private readonly blockedBy?: (pool: string) => GridhostError | undefined) {}

  /** True while blocked. */
  note(pool: string, now: number): boolean {
    const e = this.blockedBy?.(pool);
    if (e === undefined) {
      if (this.current) {
        this.current = undefined;
        this.telemetry.poolBlocked(pool, undefined);
      }
      return false;
    }
    if (this.current?.code !== e.code || this.current.message !== e.message) {
      this.current = { code: e.code, message: e.message, since: now };
      this.telemetry.poolBlocked(pool, { code: e.code, message: e.message });
    }
    return true;
  }

  /** True the first time it is asked about the block that began at `since`. */
  firstSkipOf(since: number): boolean {
    if (this.skipReportedAt === since) return false;
    this.skipReportedAt = since;
    return true;
  }
}
