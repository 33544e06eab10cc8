// Strategy registries, keyed by `rule.strategy`. A registry is a plain frozen map passed to
// decide(); nothing registers itself by being imported. The core registry holds the strategies
// policy files may name; the simulator's baselines build a registry of their own on top of it.
import { GridhostError } from '../../errors/errors.ts';
import type { Opinion, Strategy, StrategyInput } from '../strategy.ts';
import { targetTracking } from './target-tracking.ts';
import { threshold } from './threshold.ts';

export type StrategyRegistry = Readonly<Record<string, Strategy<any>>>;

/** The strategies a policy file may use. */
export const CORE_STRATEGIES: StrategyRegistry = Object.freeze({
  threshold,
  'target-tracking': targetTracking,
});

/** A registry with `extra` added to `base`. A name already in `base` is an error: a baseline must
 *  not silently replace a core strategy. */
export function withStrategies(base: StrategyRegistry, extra: Record<string, Strategy<any>>): StrategyRegistry {
  for (const name of Object.keys(extra)) {
    if (name in base) throw new GridhostError('GH_INTERNAL', `strategy "${name}" is already registered`, { strategy: name });
  }
  return Object.freeze({ ...base, ...extra });
}

/** Runs one rule with its strategy from `registry`. Throws GH_POLICY_INVALID for an unknown strategy. */
export function runRule<C extends { strategy: string }>(registry: StrategyRegistry, rule: C, input: Omit<StrategyInput<C>, 'config'>): Opinion | undefined {
  const strategy = Object.hasOwn(registry, rule.strategy) ? registry[rule.strategy] : undefined;
  if (strategy === undefined) {
    throw new GridhostError('GH_POLICY_INVALID', `unknown strategy "${rule.strategy}": use one of ${Object.keys(registry).join(', ')}`, {
      strategy: rule.strategy,
    });
  }
  return strategy({ config: rule, series: input.series, current: input.current, coming: input.coming, ready: input.ready, eligible: input.eligible });
}

export { targetTracking, threshold };
