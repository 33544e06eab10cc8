// Text formatting shared by `gridhost simulate` and its --replay mode.
import type { ElasticityMetrics } from './bungee.ts';

export function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

export function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

/** One line per figure, name padded to a column. */
export function metricLines(m: ElasticityMetrics): string[] {
  return [
    `guest-hours                 ${fmt(m.guestHours, 1)}`,
    `accuracy_U                  ${fmt(m.accuracyU)} guests (mean shortfall)`,
    `accuracy_O                  ${fmt(m.accuracyO)} guests (mean surplus)`,
    `timeshare_U                 ${pct(m.timeshareU)} of the time under-provisioned`,
    `timeshare_O                 ${pct(m.timeshareO)} of the time over-provisioned`,
    `jitter                      ${fmt(m.jitter)} /min (supply ${fmt(m.supplyAdaptationsPerMin)} /min - demand ${fmt(m.demandAdaptationsPerMin)} /min)`,
    `scale actions               ${m.scaleActions}`,
    `under-provisioned requests  ${pct(m.underProvisionedRequests)}`,
  ];
}
