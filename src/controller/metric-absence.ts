// One warn line when a rule's metric has been missing from every guest for a while. The policy
// loader refuses metrics no source provides, but a guest may still not report what its policy
// declares (a renamed field, an old image), and the rule then holds the pool without a word.
// Pure: the pool loop feeds it each sample and logs what it returns.

import { sampleKeyOf } from '../domain/metric-catalogue.ts';
import type { Policy } from '../domain/policy.ts';
import type { PoolSample } from '../domain/types.ts';

export interface AbsenceNote {
  level: 'warn' | 'info';
  message: string;
  fields: Record<string, unknown>;
}

/** How long a metric must be missing before the warning: a minute, or three samples if longer. */
export function absenceThresholdMs(policy: Policy): number {
  return Math.max(60_000, 3 * policy.sampling.intervalMs);
}

export class MetricAbsence {
  /** Sample key -> when it was first missing from every guest (while guests reported something). */
  private readonly since = new Map<string, number>();
  private readonly warned = new Set<string>();

  /**
   * Only samples in which some guest reported values count: when no guest reports anything,
   * the guests are unreachable or busy, which the rules' on_missing handles and other lines report.
   */
  observe(policy: Policy, sample: PoolSample, now: number): AbsenceNote[] {
    const notes: AbsenceNote[] = [];
    // Rules that read a PromQL query get no value from the guests (pool-loop reports those).
    const keys = new Map(policy.rules.filter((r) => r.promql === undefined).map((r) => [sampleKeyOf(r), r] as const));
    for (const key of [...this.since.keys()]) if (!keys.has(key)) this.since.delete(key);
    for (const key of [...this.warned]) if (!keys.has(key)) this.warned.delete(key);
    const reports = Object.values(sample.guests).filter((v) => Object.keys(v).length > 0);
    if (reports.length === 0) return notes;
    for (const [key, rule] of keys) {
      const present = reports.some((v) => v[key] !== undefined && Number.isFinite(v[key]));
      if (present) {
        this.since.delete(key);
        if (this.warned.delete(key)) {
          notes.push({ level: 'info', message: `metric ${rule.metric} is reported again; rule ${rule.name} decides again`, fields: { pool: policy.pool, rule: rule.name, metric: rule.metric } });
        }
        continue;
      }
      const from = this.since.get(key) ?? now;
      this.since.set(key, from);
      if (this.warned.has(key) || now - from < absenceThresholdMs(policy)) continue;
      this.warned.add(key);
      const reported = [...new Set(reports.flatMap((v) => Object.keys(v)))].sort();
      notes.push({
        level: 'warn',
        message: `no guest has reported metric ${rule.metric} for ${Math.round((now - from) / 1000)}s, so rule ${rule.name} cannot decide (on_missing: ${policy.onMissing}); ` +
          `the guests report ${reported.join(', ')}: check the guest's ${policy.guest.metricsPath} and guest.metrics`,
        fields: { pool: policy.pool, rule: rule.name, metric: rule.metric, source: rule.source, reported },
      });
    }
    return notes;
  }
}
