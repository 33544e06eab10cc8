import test from 'ava';
import { GridhostError } from '../../errors/errors.ts';
import { busyRule } from '../test-helpers.ts';
import { registerStrategy, runRule, strategies } from './index.ts';

test('rules run through the strategy their `strategy` names', (t) => {
  t.is(strategies['threshold'] !== undefined && strategies['target-tracking'] !== undefined, true);
  t.is(runRule(busyRule(), { series: [90, 90, 90], current: 3, ready: 3 })?.desired, 4);
});

test('a registered strategy is run for rules naming it', (t) => {
  registerStrategy<{ strategy: string; size: number }>('test-fixed-size', ({ config }) => ({ desired: config.size, reason: 'fixed' }));
  t.deepEqual(runRule({ strategy: 'test-fixed-size', size: 6 }, { series: [], current: 2, ready: 2 }), { desired: 6, reason: 'fixed' });
  delete strategies['test-fixed-size'];
});

test('an unknown strategy throws GH_POLICY_INVALID', (t) => {
  const e = t.throws(() => runRule({ strategy: 'nope' }, { series: [], current: 2, ready: 2 }));
  t.true(e instanceof GridhostError);
  t.is((e as GridhostError).code, 'GH_POLICY_INVALID');
  t.regex(e!.message, /unknown strategy "nope"/);
});
