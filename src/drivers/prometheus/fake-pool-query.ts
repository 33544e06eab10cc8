// Fake PoolQuery for callers' tests: answers from a table (query -> value), records each query,
// and takes injected errors.
import { GridhostError } from '../../errors/errors.ts';
import type { PoolQuery } from './pool-query.ts';

export class FakePoolQuery implements PoolQuery {
  readonly calls: string[] = [];
  /** Query text (after substitution) -> value; a query not in the table returns no series. */
  readonly values = new Map<string, number>();
  /** When set, every query rejects GH_QUERY_FAILED with this message. */
  failWith?: string;

  async query(promql: string): Promise<number | undefined> {
    this.calls.push(promql);
    if (this.failWith !== undefined) throw new GridhostError('GH_QUERY_FAILED', this.failWith);
    return this.values.get(promql);
  }
}
