// A tick's sample of the pool: the guests' metrics, the policy's Prometheus queries and (for a
// policy with contention) the hosts' facts, gathered at once and appended to the store; guests on
// hosts that stopped answering are left out of the pool first, said once per change.
import type { Guest, HostSample, PoolSample } from '../domain/types.ts';
import { GUEST_STATE_FACTS } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import type { Store } from '../store/store.ts';
import type { MetricsSource } from '../drivers/metrics/metrics-source.ts';
import { wrapError } from '../errors/errors.ts';
import type { Telemetry } from './telemetry.ts';
import { fenceData, type ActingFence } from './acting-fence.ts';
import { MetricAbsence } from './metric-absence.ts';
import type { RuleQueries } from './rule-queries.ts';

/** Raw samples kept for the API's view of a pool. */
const RECENT_SAMPLES = 20;

export interface SamplerDeps {
  store: Store;
  metrics: MetricsSource;
  telemetry: Telemetry;
  queries: RuleQueries;
  fence?: ActingFence;
  /** Guests on a host that stopped answering: left out of the pool's size so it is rebuilt elsewhere. */
  isLost?: (g: Guest) => boolean;
  hostFacts?: () => Promise<HostSample[] | undefined>;
  /** The policy in force as a sample is recorded (the absence of rules' metrics is judged by it). */
  policy: () => Policy;
}

export class PoolSampler {
  /** The latest raw samples, for the API only (decisions read the memory's reduced ticks). */
  recent: PoolSample[] = [];
  private lostReported = '';
  /** One warn line per rule whose metric no guest reports (metric-absence.ts). */
  private readonly absence = new MetricAbsence();

  constructor(private readonly pool: string, private readonly d: SamplerDeps) {}

  withoutLost(guests: Guest[]): Guest[] {
    const isLost = this.d.isLost;
    if (!isLost) return guests;
    const lost = guests.filter(isLost);
    const key = lost.map((g) => g.id).sort().join(',');
    if (key !== this.lostReported) {
      this.lostReported = key;
      if (lost.length > 0) this.d.telemetry.warn('guests on hosts that stopped answering count as lost', { pool: this.pool, guests: lost.map((g) => `${g.id}@${g.host}`) });
      else this.d.telemetry.info('no guests lost any more', { pool: this.pool });
    }
    return lost.length === 0 ? guests : guests.filter((g) => !isLost(g));
  }

  async sample(guests: readonly Guest[], now: number, policy: Policy): Promise<PoolSample> {
    const measurable = guests.filter((g) => GUEST_STATE_FACTS[g.state].serving && g.address);
    const sample: PoolSample = { at: now, guests: {} };
    const [, pool, hosts] = await Promise.all([
      this.d.metrics.sample(measurable).then(
        (values) => {
          for (const [id, v] of values) {
            sample.guests[id] = v;
            this.d.telemetry.guestValues(this.pool, id, v);
          }
        },
        // The whole source is down: an empty sample is what the decision core calls "missing".
        (e: unknown) => this.d.telemetry.warn('metrics source failed', { pool: this.pool, error: wrapError('GH_HOST_UNREACHABLE', e).message }),
      ),
      this.d.queries.values(policy),
      policy.contention && this.d.hostFacts ? this.d.hostFacts().catch(() => undefined) : undefined,
    ]);
    if (pool !== undefined) sample.pool = pool;
    if (hosts !== undefined) sample.hosts = hosts;
    await this.d.store.appendSample(this.pool, sample, fenceData(this.d.fence)).catch((e) => this.d.telemetry.warn('could not record sample', { pool: this.pool, error: String(e) }));
    for (const n of this.absence.observe(this.d.policy(), sample, now)) this.d.telemetry[n.level](n.message, n.fields);
    this.recent = [...this.recent.slice(-(RECENT_SAMPLES - 1)), sample];
    return sample;
  }
}
