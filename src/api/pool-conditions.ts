// What blocks a pool from growing, as the API, the CLI and the dashboard show it: the launch
// breaker, hosts that are full or unreachable, a balancer that cannot be reached or cannot take
// guests (Balancer.blocked), launches that keep failing, a spent flap budget, saturated hosts. Pure: from the loop's status (and whether the balancer answered).
import type { PoolStatus } from '../controller/pool-status.ts';

export type BlockCause = 'flap-budget' | 'hosts-saturated' | 'breaker-open' | 'hosts-full' | 'hosts-unreachable' | 'balancer-unreachable' | 'balancer-blocked' | 'launch-failing';

export interface Blocked {
  cause: BlockCause;
  message: string;
}

/** A launch failure older than this no longer says anything about the pool (unless the breaker is still open). */
export const LAUNCH_ERROR_RELEVANT_MS = 10 * 60_000;

function causeOfCode(code: string): BlockCause {
  switch (code) {
    case 'GH_OUT_OF_CAPACITY':
      return 'hosts-full';
    case 'GH_HOST_UNREACHABLE':
    case 'GH_HOST_KEY_MISMATCH':
    case 'GH_COMMAND_TIMEOUT':
      return 'hosts-unreachable';
    case 'GH_BALANCER_FAILED':
      return 'balancer-unreachable';
    default:
      return 'launch-failing';
  }
}

export function blockedReasons(st: Pick<PoolStatus, 'breaker' | 'lastLaunchError' | 'blocked' | 'lastHold'>, now: number, balancerError?: string): Blocked[] {
  const out: Blocked[] = [];
  if (st.blocked) {
    out.push({ cause: 'balancer-blocked', message: `the balancer cannot take guests since ${new Date(st.blocked.since).toISOString()} (none is launched or retired): ${st.blocked.code}: ${st.blocked.message}` });
  }
  const h = st.lastHold;
  if (h?.cause === 'flap-budget') {
    out.push({ cause: 'flap-budget', message: `flap budget spent: ${h.spent} of ${h.limit} guests started or stopped in the last ${Math.round(h.windowMs / 1000)}s; the next change is free in ${Math.max(0, Math.ceil((h.nextAt - now) / 1000))}s (the rules want ${h.wanted})` });
  }
  if (h?.cause === 'hosts-saturated') {
    out.push({ cause: 'hosts-saturated', message: `blocked: hosts saturated: every host's domains use ${Math.round(h.threshold * 100)}% or more of its CPUs (${h.hosts.map((x) => `${x.host} ${Math.round(x.cpuRatio * 100)}%`).join(', ')}); no guest is launched that could get no CPU (the rules want ${h.wanted})` });
  }
  if (st.breaker.mode === 'open') {
    out.push({ cause: 'breaker-open', message: `launch breaker open after ${st.breaker.consecutiveFailures} failed launches: no launch for another ${Math.ceil(st.breaker.remainingMs / 1000)}s (or reset it once the cause is fixed)` });
  }
  const e = st.lastLaunchError;
  if (e && (st.breaker.mode !== 'closed' || now - e.at < LAUNCH_ERROR_RELEVANT_MS)) {
    out.push({ cause: causeOfCode(e.code), message: `last launch failed ${Math.round((now - e.at) / 1000)}s ago: ${e.code}: ${e.message}` });
  }
  if (balancerError !== undefined && !out.some((b) => b.cause === 'balancer-unreachable')) {
    out.push({ cause: 'balancer-unreachable', message: `the balancer does not answer: ${balancerError}` });
  }
  return out;
}
