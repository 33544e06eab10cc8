// Target tracking, the Kubernetes HPA rule: desired = ceil(ready * value / target), held when
// the ratio is within `tolerance` of 1. With aggregate `sum` the metric is the pool total, so
// desired = ceil(sum / target).
//
// Like the HPA, guests that are counted but not ready (warming up) are assumed to carry no load
// when scaling out and to sit exactly at target when scaling in, and a result that would move
// the pool against the direction of the ratio is dropped (held at current). This keeps a pool
// with fresh guests from scaling in while the metric is above target.
import type { TargetTrackingRule } from '../../domain/policy.ts';
import { ceilSafe, fmt1, fmtConf, unitOf } from '../format.ts';
import type { Opinion, Strategy } from '../strategy.ts';

export const targetTracking: Strategy<TargetTrackingRule> = ({ config, series, current, ready }) => {
  const n = config.for;
  if (n < 1 || config.target <= 0) return undefined;
  const values = series.slice(Math.max(0, series.length - n)).filter((v): v is number => v !== null);
  if (values.length === 0) return undefined;
  const v = values.reduce((a, b) => a + b, 0) / values.length;
  const unit = unitOf(config.metric);
  const ratio = v / config.target;
  const head = `${config.metric} ${config.aggregate} ${fmt1(v)}${unit} / target ${fmtConf(config.target)}${unit} = ${ratio.toFixed(2)}`;

  if (config.aggregate === 'sum') {
    // The sum is the pool's total, so the ratio is already a guest count; the tolerance band
    // applies to the per-guest usage (sum / target / current), as the HPA does for AverageValue.
    const usage = current > 0 ? ratio / current : Infinity;
    if (Math.abs(usage - 1) <= config.tolerance + 1e-9) {
      return { desired: current, reason: `${head} for ${current} guests (within tolerance ${fmtConf(config.tolerance)})` };
    }
    const desired = ceilSafe(ratio);
    return { desired, reason: `${head} -> ceil(${ratio.toFixed(2)}) = ${desired}` };
  }

  // Per-guest values say nothing about the pool when no guest is ready to report them.
  if (ready <= 0) return undefined;
  if (Math.abs(ratio - 1) <= config.tolerance + 1e-9) {
    return { desired: current, reason: `${head} (within tolerance ${fmtConf(config.tolerance)})` };
  }

  const unready = Math.max(0, current - ready);
  let desired: number;
  let reason: string;
  if (ratio > 1 || unready === 0) {
    desired = ceilSafe(ready * ratio);
    reason = `${head} -> ceil(${ready} x ${ratio.toFixed(2)}) = ${desired}`;
  } else {
    desired = ceilSafe(ready * ratio + unready);
    reason = `${head} -> ceil(${ready} x ${ratio.toFixed(2)} + ${unready} warming up) = ${desired}`;
  }
  return guardDirection(ratio, current, desired, reason);
};

function guardDirection(ratio: number, current: number, desired: number, reason: string): Opinion {
  if ((ratio > 1 && desired < current) || (ratio < 1 && desired > current)) {
    return { desired: current, reason: `${reason}, held at ${current} (would move against the load)` };
  }
  return { desired: Math.max(0, desired), reason };
}
