// Strategy registry keyed by `rule.strategy`. Other components (e.g. the simulator's baseline
// algorithms) add entries with registerStrategy(); decide() runs rules through runRule().
import { GridhostError } from '../../errors/errors.ts';
import type { Opinion, Strategy, StrategyInput } from '../strategy.ts';
import { targetTracking } from './target-tracking.ts';
import { threshold } from './threshold.ts';

export const strategies: Record<string, Strategy<any>> = {
  threshold,
  'target-tracking': targetTracking,
};

/** Adds (or replaces) a strategy under `name`. */
export function registerStrategy<C>(name: string, strategy: Strategy<C>): void {
  strategies[name] = strategy as Strategy<any>;
}

/** Runs one rule with its registered strategy. Throws GH_POLICY_INVALID for an unknown strategy. */
export function runRule<C extends { strategy: string }>(rule: C, input: Omit<StrategyInput<C>, 'config'>): Opinion | undefined {
  const strategy = strategies[rule.strategy];
  if (strategy === undefined) {
    throw new GridhostError('GH_POLICY_INVALID', `unknown strategy "${rule.strategy}": use one of ${Object.keys(strategies).join(', ')}`, {
      strategy: rule.strategy,
    });
  }
  return strategy({ ...input, config: rule });
}

export { targetTracking, threshold };
