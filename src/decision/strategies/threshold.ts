// Threshold strategy: the last `for` values must all exist and all cross the bound.
// Bounds are exclusive: a value equal to the bound does not trigger (`above: 70` needs > 70).
// A step up is taken from the guests the metric already reflects: guests still booting or
// warming up count towards the result but are not stepped from again (AWS step scaling with
// instance warm-up), so a crossing that lasts while the last step's guests boot asks for no more.
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

export const threshold: Strategy<ThresholdRule> = ({ config, series, current, coming }) => {
  const n = config.for;
  if (n < 1 || series.length < n) return undefined;
  const isAbove = config.above !== undefined;
  const bound = isAbove ? config.above! : config.below;
  if (bound === undefined) return undefined;
  // Plain loops: this runs for every rule of every pool at every tick.
  let sum = 0;
  for (let i = series.length - n; i < series.length; i++) {
    const v = series[i];
    if (v === null || v === undefined) return undefined;
    if (isAbove ? !(v > bound) : !(v < bound)) return undefined;
    sum += v;
  }
  const values = series.slice(series.length - n) as number[];
  const base = config.step.value > 0 ? Math.max(0, current - coming) : current;
  const desired = Math.max(0, base + stepDelta(config.step, base));
  const unit = unitOf(config.metric);
  const reason =
    `${config.metric} ${config.aggregate} ${fmt1(sum / n)}${unit} ${isAbove ? '>' : '<'} ${fmtConf(bound)}${unit} ` +
    `for ${plural(n, 'sample')} (${values.map(fmt1).join(', ')})` +
    (base !== current ? `, stepped from the ${base} guests it reflects` : '');
  return { desired, reason };
};
