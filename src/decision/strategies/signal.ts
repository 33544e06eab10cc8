// Signal strategy: a step asked for from outside (an alert, a deploy script) instead of read
// from a metric. It fires while the rule has a pending signal (signal-book.ts) and its own
// cooldown since its signals were last served has passed; the pool's bounds, stabilization and
// cooldowns then apply to it as to any rule (decide.ts). The step is taken from the pool's
// counted size (guests on their way up included), so a signal asks for `step` more than the
// pool already has or is getting, and one signal is served by one action.
import type { SignalRule } from '../../domain/policy.ts';
import type { SignalEntry } from '../signal-book.ts';
import { fmtSeconds, plural } from '../format.ts';
import type { Opinion } from '../strategy.ts';
import { stepDelta } from './threshold.ts';

export interface SignalInput {
  config: SignalRule;
  /** The rule's pending signals, oldest first. */
  pending: readonly SignalEntry[];
  /** When the rule's signals were last served (its cooldown runs from then). */
  lastServedAt?: number;
  /** Counted size of the pool. */
  current: number;
  now: number;
}

/** An opinion, or why there is none (`note`, absent when no signal waits). */
export function signalStrategy({ config, pending, lastServedAt, current, now }: SignalInput): { opinion?: Opinion; note?: string } {
  if (pending.length === 0) return {};
  const what = pending.length === 1 ? pending[0]!.from : `${pending[0]!.from} and ${plural(pending.length - 1, 'more signal')}`;
  const left = lastServedAt === undefined ? 0 : config.cooldownMs - (now - lastServedAt);
  if (left > 0) return { note: `signal ${config.name} (${what}) waits for the rule's cooldown, another ${fmtSeconds(left)}` };
  const desired = Math.max(0, current + stepDelta(config.step, current));
  const step = config.step.kind === 'count' ? `${config.step.value > 0 ? '+' : ''}${config.step.value}` : `${config.step.value > 0 ? '+' : ''}${config.step.value}%`;
  return { opinion: { desired, reason: `signal ${config.name} ${step}: ${what}` } };
}
