// Several metrics sources as one: each guest's values are merged (a later source wins on a
// key both report). A source that rejects contributes nothing; only if all reject does this.
import type { Guest, MetricValues } from '../../domain/types.ts';
import type { MetricsSource } from './metrics-source.ts';

export interface SourceLogger {
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export class CombinedSource implements MetricsSource {
  readonly name: string;

  constructor(
    private readonly sources: readonly MetricsSource[],
    private readonly logger?: SourceLogger,
  ) {
    this.name = `combined(${sources.map((s) => s.name).join('+')})`;
  }

  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    const settled = await Promise.allSettled(this.sources.map((s) => s.sample(guests)));
    const out = new Map<string, MetricValues>();
    let failures = 0;
    settled.forEach((r, i) => {
      if (r.status === 'rejected') {
        failures++;
        this.logger?.warn('metrics source failed', { source: this.sources[i]?.name, error: String((r.reason as Error)?.message ?? r.reason) });
        return;
      }
      for (const [id, values] of r.value) out.set(id, { ...out.get(id), ...values });
    });
    if (this.sources.length > 0 && failures === this.sources.length) {
      throw (settled[0] as PromiseRejectedResult).reason;
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.sources.map((s) => s.close()));
  }
}
