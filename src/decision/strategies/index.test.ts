import test from 'ava';
import { GridhostError } from '../../errors/errors.ts';
import { busyRule } from '../test-helpers.ts';
import { CORE_STRATEGIES, runRule, withStrategies } from './index.ts';

const input = { series: [90, 90, 90], current: 3, ready: 3, eligible: 3, coming: 0 };

test('rules run through the strategy their `strategy` names in the registry passed', (t) => {
  t.deepEqual(Object.keys(CORE_STRATEGIES).sort(), ['target-tracking', 'threshold']);
  t.is(runRule(CORE_STRATEGIES, busyRule(), input)?.desired, 4);
});

test('a registry built on the core one runs its own strategies and leaves the core registry as it was', (t) => {
  const reg = withStrategies(CORE_STRATEGIES, { 'test-fixed-size': ({ config }: { config: { size: number } }) => ({ desired: config.size, reason: 'fixed' }) });
  t.deepEqual(runRule(reg, { strategy: 'test-fixed-size', size: 6 }, input), { desired: 6, reason: 'fixed' });
  t.is(runRule(reg, busyRule(), input)?.desired, 4);
  t.false('test-fixed-size' in CORE_STRATEGIES);
  t.true(Object.isFrozen(reg) && Object.isFrozen(CORE_STRATEGIES));
});

test('a registry cannot replace a core strategy', (t) => {
  t.throws(() => withStrategies(CORE_STRATEGIES, { threshold: () => undefined }), { message: /"threshold" is already registered/ });
});

test('an unknown strategy throws GH_POLICY_INVALID naming the known ones', (t) => {
  const e = t.throws(() => runRule(CORE_STRATEGIES, { strategy: 'nope' }, input));
  t.true(e instanceof GridhostError);
  t.is((e as GridhostError).code, 'GH_POLICY_INVALID');
  t.regex(e!.message, /unknown strategy "nope": use one of threshold, target-tracking/);
});

test('a name inherited from Object.prototype is not a strategy', (t) => {
  const e = t.throws(() => runRule(CORE_STRATEGIES, { strategy: 'toString' }, input));
  t.is((e as GridhostError).code, 'GH_POLICY_INVALID');
});
