// Target tracking, the Kubernetes HPA's proportional rule: desired = ceil(ready * value / target),
// held when the ratio is within `tolerance` of 1. With aggregate `sum` the metric is the pool
// total, so desired = ceil(sum / target).
//
// Guests that are counted but not ready (booting or warming up): on a scale-out they are
// assumed to carry no load (as the HPA assumes of unready pods), so they count as capacity
// coming rather than being sized again. On a scale-in gridhost assumes they sit at target, one
// guest each, where the HPA leaves unready pods out and sizes from the ready ones alone; with
// while_booting `add` a scale-in waits for them anyway (decide.ts). A result that would move the
// pool against the direction of the ratio is dropped (held at current), as the HPA does.
import type { TargetTrackingRule } from '../../domain/policy.ts';
import { ceilSafe, fmt1, fmtConf, unitOf } from '../format.ts';
import type { Opinion, Strategy } from '../strategy.ts';

export const targetTracking: Strategy<TargetTrackingRule> = ({ config, series, current, ready }) => {
  const n = config.for;
  if (n < 1 || config.target <= 0) return undefined;
  // Plain loops: this runs for every rule of every pool at every tick.
  let sum = 0;
  let count = 0;
  for (let i = series.length > n ? series.length - n : 0; i < series.length; i++) {
    const x = series[i];
    if (x === null || x === undefined) continue;
    sum += x;
    count++;
  }
  if (count === 0) return undefined;
  const v = sum / count;
  const unit = unitOf(config.metric);
  const ratio = v / config.target;
  const ratio2 = ratio.toFixed(2);
  const head = `${config.metric} ${config.aggregate} ${fmt1(v)}${unit} / target ${fmtConf(config.target)}${unit} = ${ratio2}`;

  if (config.aggregate === 'sum') {
    // The sum is the pool's total, so the ratio is already a guest count; the tolerance band
    // applies to the per-guest usage (sum / target / current), as the HPA does for AverageValue.
    const usage = current > 0 ? ratio / current : Infinity;
    if (Math.abs(usage - 1) <= config.tolerance + 1e-9) {
      return { desired: current, reason: `${head} for ${current} guests (within tolerance ${fmtConf(config.tolerance)})` };
    }
    const desired = ceilSafe(ratio);
    return { desired, reason: `${head} -> ceil(${ratio2}) = ${desired}` };
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
    reason = `${head} -> ceil(${ready} x ${ratio2}) = ${desired}`;
  } else {
    desired = ceilSafe(ready * ratio + unready);
    reason = `${head} -> ceil(${ready} x ${ratio2} + ${unready} warming up) = ${desired}`;
  }
  return guardDirection(ratio, current, desired, reason);
};

function guardDirection(ratio: number, current: number, desired: number, reason: string): Opinion {
  if ((ratio > 1 && desired < current) || (ratio < 1 && desired > current)) {
    return { desired: current, reason: `${reason}, held at ${current} (would move against the load)` };
  }
  return { desired: Math.max(0, desired), reason };
}
