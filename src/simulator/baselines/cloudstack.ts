// Apache CloudStack AutoScale (VM groups), from the published admin guide
// (source/adminguide/autoscale_with_virtual_router.rst and autoscale_without_netscaler.rst,
// apache/cloudstack-documentation at 08181bb7bedd3d0e44dc349818f9230948283be7):
// a scale-up / scale-down policy has conditions (counter, relational operator GT/GE/LT/LE/EQ,
// threshold), all of which must hold for the policy's duration; it then deploys or destroys
// one VM. "Quiet Time: This is the cool down period after an AutoScale action is initiated. The
// time includes the time taken to complete provisioning an Instance ... before any action can
// take place" (default 300 s): it starts with the action, covers the boot, and blocks both
// directions. The group polls its counters every polling interval (default 30 s).
import type { Policy } from '../../domain/policy.ts';
import { fmt1 } from '../../decision/format.ts';
import type { Strategy } from '../../decision/strategy.ts';
import { baselinePolicy, lastValues, type BaselineRuleBase } from './base-policy.ts';

export type RelOp = 'GT' | 'GE' | 'LT' | 'LE' | 'EQ';

export interface CloudStackRule extends BaselineRuleBase {
  strategy: 'cloudstack-autoscale';
  /** Conditions on this rule's metric, all of which must hold at every sample of the duration. */
  conditions: { op: RelOp; threshold: number }[];
  action: 'scale-up' | 'scale-down';
}

function holds(v: number, op: RelOp, t: number): boolean {
  switch (op) {
    case 'GT':
      return v > t;
    case 'GE':
      return v >= t;
    case 'LT':
      return v < t;
    case 'LE':
      return v <= t;
    case 'EQ':
      return v === t;
  }
}

export const cloudStackAutoScale: Strategy<CloudStackRule> = ({ config: c, series, current }) => {
  const vals = lastValues(series, c.for);
  if (!vals || c.conditions.length === 0) return undefined;
  if (!vals.every((v) => c.conditions.every((k) => holds(v, k.op, k.threshold)))) return undefined;
  const desired = Math.max(0, current + (c.action === 'scale-up' ? 1 : -1));
  const conds = c.conditions.map((k) => `${c.metric} ${k.op} ${k.threshold}`).join(' and ');
  return { desired, reason: `${c.action}: ${conds} held for ${c.for} polls (${vals.map(fmt1).join(', ')})` };
};

export function cloudStackPolicy(like: Policy, o: { highCpu?: number; lowCpu?: number } = {}): Policy {
  const interval = 30_000;
  const rule = (name: string, action: CloudStackRule['action'], durationMs: number, conditions: CloudStackRule['conditions']): CloudStackRule => ({
    name,
    strategy: 'cloudstack-autoscale',
    metric: 'cpu',
    aggregate: 'mean',
    for: Math.max(1, Math.round(durationMs / interval)),
    conditions,
    action,
  });
  return baselinePolicy(like, 'cloudstack', {
    intervalMs: interval,
    // "Quiet Time: the cool down period after an AutoScale action is initiated. The time
    // includes the time taken to complete provisioning an Instance ...": it starts with the
    // action and covers the boot; nothing else holds the group.
    whileBooting: 'add',
    peer: { ignoreInFlight: true, cooldownFrom: 'started', cooldownAfterAny: true },
    scaleOutCooldownMs: 300_000,
    scaleInCooldownMs: 300_000,
    rules: [
      rule('scale-up', 'scale-up', 60_000, [{ op: 'GT', threshold: o.highCpu ?? 70 }]),
      rule('scale-down', 'scale-down', 120_000, [{ op: 'LT', threshold: o.lowCpu ?? 30 }]),
    ],
  });
}
