// The pool loop's side of auto-heal: which replacements of sick guests (and retirements of ones
// that need none) the decision core's planReplacements allows this tick, remembered in the pool's
// memory at once (so no scale action starts beside them) and returned to be started once the
// record is written; each replacement's launch is counted by the breaker as the loop's are.
import type { Guest } from '../domain/types.ts';
import type { Policy } from '../domain/policy.ts';
import { planReplacements } from '../decision/auto-heal.ts';
import type { MemoryEvent, PoolMemory } from '../decision/pool-memory.ts';
import type { Clock } from './clock.ts';
import type { Telemetry } from './telemetry.ts';
import type { ActingFence } from './acting-fence.ts';
import type { Healer, ReplaceResult } from './healer.ts';
import type { LaunchGuard } from './launch-guard.ts';

export interface HealStartsDeps {
  healer: Healer;
  telemetry: Telemetry;
  clock: Clock;
  guard: LaunchGuard;
  fence?: ActingFence;
  /** The loop's memory, read and changed through these. */
  memory: () => PoolMemory;
  remember: (policy: Policy, e: MemoryEvent, now: number) => void;
}

export class HealStarts {
  /** The last "sick guests wait" line, so it is said once per change. */
  private waitReported = '';

  constructor(private readonly d: HealStartsDeps) {}

  /** `size`: the size the pool keeps, the decision's, which counts each sick guest waiting for
   *  its replacement as capacity coming (awaitingReplacement()). */
  plan(policy: Policy, guests: readonly Guest[], size: number, now: number): (() => void)[] {
    const { healer, fence } = this.d;
    const plan = planReplacements(policy, guests, this.d.memory().replacing, this.d.guard.mode(policy, now));
    const waiting = plan.waiting ?? '';
    if (waiting !== this.waitReported) {
      this.waitReported = waiting;
      if (waiting) this.d.telemetry.warn(waiting, { pool: policy.pool, event: 'auto-heal' });
    }
    const retire = (plan.retire ?? []).map((sick) => {
      this.d.remember(policy, { kind: 'replacing', sick: sick.id }, now);
      return () => healer.retireSick(policy, sick, () => {
        this.d.remember(policy, { kind: 'replaced', sick: sick.id }, this.d.clock.now());
      }, fence);
    });
    return [...retire, ...plan.start.map((sick) => {
      this.d.remember(policy, { kind: 'replacing', sick: sick.id }, now);
      return () => healer.start(policy, sick, size, (r) => this.replaced(policy, r), fence);
    })];
  }

  private replaced(policy: Policy, r: ReplaceResult): void {
    const now = this.d.clock.now();
    this.d.remember(policy, { kind: 'replaced', sick: r.sick.id }, now);
    if (r.skipped !== undefined) return;
    // The breaker hears of every launch, for scaling and for replacements alike.
    this.d.guard.note(policy, r.replacement ? 1 : 0, r.launchError ? [r.launchError] : [], r.launchError?.message ?? '', now);
  }
}
