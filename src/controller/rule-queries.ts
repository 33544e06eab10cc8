// The values of a policy's `source: prometheus` rules for one tick: each rule's PromQL query
// ({{pool}} filled in) asked of the PoolQuery role, kept under prometheusMetricKey(rule) in the
// pool's sample. A failed or empty query leaves its value out, so the decision core counts the
// metric as missing and on_missing applies; that is said once when it starts (and when why
// changes), and once when the query answers again, not every tick.
import type { Policy } from '../domain/policy.ts';
import { prometheusMetricKey } from '../domain/policy.ts';
import type { MetricValues } from '../domain/types.ts';
import type { PoolQuery } from '../drivers/prometheus/pool-query.ts';
import { renderQuery } from '../drivers/prometheus/promql-template.ts';
import { wrapError } from '../errors/errors.ts';
import type { Telemetry } from './telemetry.ts';

export class RuleQueries {
  /** rule -> why its last query gave no value. */
  private readonly problems = new Map<string, string>();

  constructor(private readonly pool: string, private readonly telemetry: Telemetry, private readonly poolQuery?: PoolQuery) {}

  /** The values of the policy's `source: prometheus` rules (undefined: it has none). Never throws. */
  async values(policy: Policy): Promise<MetricValues | undefined> {
    const rules = policy.rules.filter((r) => r.promql !== undefined);
    if (rules.length === 0) return undefined;
    const out: MetricValues = {};
    await Promise.all(rules.map(async (rule) => {
      let problem: string | undefined;
      try {
        if (this.poolQuery === undefined) problem = 'no Prometheus server is configured (prometheus.url)';
        else {
          const v = await this.poolQuery.query(renderQuery(rule.promql!, policy.pool));
          if (v === undefined) problem = 'the query returned no series';
          else out[prometheusMetricKey(rule.name)] = v;
        }
      } catch (e) {
        problem = wrapError('GH_QUERY_FAILED', e).message;
      }
      this.note(rule.name, problem, policy.onMissing);
    }));
    return out;
  }

  private note(rule: string, problem: string | undefined, onMissing: string): void {
    const before = this.problems.get(rule);
    if (problem === before) return;
    if (problem === undefined) {
      this.problems.delete(rule);
      this.telemetry.info('prometheus query answers again', { pool: this.pool, rule });
      return;
    }
    this.problems.set(rule, problem);
    this.telemetry.warn(`prometheus query gave no value; the metric counts as missing (on_missing: ${onMissing})`, { pool: this.pool, rule, code: 'GH_QUERY_FAILED', error: problem });
  }
}
