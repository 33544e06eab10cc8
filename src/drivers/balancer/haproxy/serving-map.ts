// HAProxy's `show stat` mapped onto the serving figures every balancer reports (balancer.ts).
// Pure. What HAProxy 2.6 does not count is 0 or left out, never estimated: it keeps response
// times only as averages (no latency histogram), has no counter of server timeouts, does not
// tell its own 503s (no server) apart from the backend's, and has no fail-open mode.
import type { BackendServing, CheckResult, PoolServing, ServingStats } from '../balancer.ts';
import type { ServerStat, ServerState } from './runtime-replies.ts';
import { guestIdOf, rowAddress } from './server-plan.ts';

export function statsOf(s: ServerStat): ServingStats {
  return {
    requests: s.stot,
    responses: { '1xx': s.hrsp1xx, '2xx': s.hrsp2xx, '3xx': s.hrsp3xx, '4xx': s.hrsp4xx, '5xx': s.hrsp5xx + s.hrspOther },
    upstreamErrors: s.econ + s.eresp,
    upstreamTimeouts: 0,
    inFlight: s.scur,
    queued: s.qcur,
  };
}

/** The last check as HAProxy reports it; `at` is when gridhost read it (HAProxy does not say). */
export function checkOf(s: ServerStat, readAt: number): CheckResult | undefined {
  if (s.checkStatus === '' || s.checkStatus === 'INI') return undefined;
  const code = s.checkCode !== undefined && s.checkCode > 0 ? ` HTTP ${s.checkCode}` : '';
  return { at: readAt, ok: /^L[4-7]OK/.test(s.checkStatus), detail: `${s.checkStatus}${code}${s.checkDesc ? `: ${s.checkDesc}` : ''}` };
}

export function poolServing(pool: string, prefix: string, rows: readonly ServerState[], stats: readonly ServerStat[], readAt: number, foreign: ReadonlySet<string>): PoolServing {
  const byName = new Map(stats.map((s) => [s.name, s]));
  const backends: BackendServing[] = [];
  for (const r of rows) {
    const id = guestIdOf(prefix, r.name);
    if (id === undefined || !id.startsWith(`${pool}-`) || foreign.has(r.name)) continue;
    const s = byName.get(r.name);
    const last = s ? checkOf(s, readAt) : undefined;
    const b: BackendServing = {
      id,
      address: rowAddress(r),
      admin: r.drain || r.maint ? 'drain' : 'ready',
      healthy: r.op === 'running' && !r.maint,
      active: s?.scur ?? 0,
      served: s?.stot ?? 0,
      failed: s?.eresp ?? 0,
      downs: s?.chkdown ?? 0,
      stats: s ? statsOf(s) : statsOf(EMPTY),
    };
    if (last) b.lastCheck = last;
    if (s?.lastchgSec !== undefined) b.changedAt = readAt - s.lastchgSec * 1000;
    backends.push(b);
  }
  const agg = byName.get('BACKEND');
  return { pool, frontend: statsOf(agg ?? EMPTY), noBackend: 0, failOpen: false, failOpenEntered: 0, backends };
}

const EMPTY: ServerStat = {
  backend: '', name: '', status: '', scur: 0, stot: 0, qcur: 0, hrsp1xx: 0, hrsp2xx: 0, hrsp3xx: 0, hrsp4xx: 0, hrsp5xx: 0, hrspOther: 0,
  econ: 0, eresp: 0, cliAbrt: 0, srvAbrt: 0, wretr: 0, wredis: 0, rtimeMs: 0, checkStatus: '', checkCode: undefined, checkDesc: '', chkdown: 0, lastchgSec: undefined, addr: '',
};
