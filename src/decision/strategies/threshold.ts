// Threshold strategy: the last `for` values must all exist and all cross the bound.
// Bounds are exclusive: a value equal to the bound does not trigger (`above: 70` needs > 70).
import type { Step, ThresholdRule } from '../../domain/policy.ts';
import { ceilSafe, fmt1, fmtConf, plural, unitOf } from '../format.ts';
import type { Strategy } from '../strategy.ts';

/** Signed guest delta of a step. Percent steps round away from zero so a pool always moves by
 *  at least one guest (+50% of 3 = 1.5 -> 2; -25% of 3 = 0.75 -> 1). */
export function stepDelta(step: Step, current: number): number {
  if (step.kind === 'count') return step.value;
  const sign = Math.sign(step.value);
  const magnitude = Math.max(1, ceilSafe((Math.abs(step.value) * current) / 100));
  return sign * magnitude;
}

export const threshold: Strategy<ThresholdRule> = ({ config, series, current }) => {
  const n = config.for;
  if (n < 1 || series.length < n) return undefined;
  const window = series.slice(series.length - n);
  const values: number[] = [];
  for (const v of window) {
    if (v === null) return undefined;
    values.push(v);
  }
  const isAbove = config.above !== undefined;
  const bound = isAbove ? config.above! : config.below;
  if (bound === undefined) return undefined;
  const crosses = isAbove ? values.every((v) => v > bound) : values.every((v) => v < bound);
  if (!crosses) return undefined;

  const desired = Math.max(0, current + stepDelta(config.step, current));
  const unit = unitOf(config.metric);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const reason =
    `${config.metric} ${config.aggregate} ${fmt1(mean)}${unit} ${isAbove ? '>' : '<'} ${fmtConf(bound)}${unit} ` +
    `for ${plural(n, 'sample')} (${values.map(fmt1).join(', ')})`;
  return { desired, reason };
};
