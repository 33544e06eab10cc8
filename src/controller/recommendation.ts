// Recommend-only mode (`mode: recommend`): the pool loop samples and decides as usual, and this
// publishes what it would do instead of doing it. A change of recommendation is published once
// (not every tick): an `event: "scale"` log line and a scale event in the store, both with outcome
// `recommended`; gridhost_recommended_guests (pool-loop's gauges) and the API show the current one
// every tick. Nothing is launched or retired. The event is written as the loop's own are:
// fenced by the pool's token (a deposed leader publishes nothing) and naming the holder.
import type { Decision } from '../domain/types.ts';
import { scaleEventOf } from '../domain/types.ts';
import type { Store } from '../store/store.ts';
import type { Telemetry } from './telemetry.ts';
import { fenceData, type ActingFence } from './acting-fence.ts';

export const RECOMMEND_DETAIL = 'mode: recommend: nothing was launched or retired';

export class RecommendationPublisher {
  /** The last published recommendation (action and sizes), to publish only changes. */
  private last?: string;

  constructor(private readonly pool: string, private readonly d: { store: Store; telemetry: Telemetry }) {}

  /** Publish the decision as a recommendation if it differs from the last one published. */
  async publish(decision: Decision, fence?: ActingFence): Promise<void> {
    const key = decision.action === 'hold' ? `hold ${decision.from}` : `${decision.action} ${decision.from} -> ${decision.to}`;
    if (key === this.last) return;
    if (decision.action === 'hold') {
      this.last = key;
      this.d.telemetry.info('recommendation: keep the pool as it is', { pool: this.pool, event: 'recommendation', size: decision.from, reason: decision.reason });
      return;
    }
    const ev = scaleEventOf(decision, 'recommended', RECOMMEND_DETAIL);
    fence?.check();
    await this.d.store.appendEvent({ ...ev, ...(fence ? { holder: fence.holder, token: fence.token } : {}) }, fenceData(fence));
    // Marked published only once stored: a failed write is tried again at the next tick.
    this.last = key;
    this.d.telemetry.scaleEvent(ev);
  }

  /** The pool acts again: the next recommendation (after a switch back) is published anew. */
  reset(): void {
    this.last = undefined;
  }
}
