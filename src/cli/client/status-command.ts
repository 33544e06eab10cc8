// `gridhost status [POOL]`: every pool as one line (like `kubectl get hpa`), or one pool in
// detail: what is in force, what blocks it, its guests and the last decision.
import { CONNECTION_HELP, EXIT_OK, nameArg, type CommandSpec } from './client-command.ts';
import { ago, num, table, targets, truncate, type RuleFigures } from './format.ts';

/** The parts of GET /api/pools the table shows. */
export interface PoolLine {
  pool: string;
  managed: boolean;
  mode?: string;
  control?: { mode: string; desired?: number; by: string; reason: string; at: string };
  size: number;
  healthy?: number;
  desired?: number;
  min?: number;
  max?: number;
  rules?: RuleFigures[];
  schedules?: string[];
  breaker?: { mode: string; remainingMs: number };
  blockers?: { cause: string; message: string }[];
  policyError?: { file: string; issues: { line: number; col: number; path: string; message: string }[] };
  lastDecision?: { at: string; reason: string };
}

export interface PoolsResponse {
  pools: PoolLine[];
  invalidPolicies?: { file: string; issues: { line: number; col: number; path: string; message: string }[] }[];
}

interface GuestLine {
  id: string;
  state: string;
  host: string;
  address?: string;
  createdAt: string;
  metrics?: Record<string, number>;
  backend?: { healthy: boolean; draining?: boolean; inflight?: number };
}

interface PoolDetail {
  guests: GuestLine[];
  cooldownRemainingMs?: { scaleOut: number; scaleIn: number };
}

const modeOf = (p: PoolLine) => (p.managed ? p.mode ?? 'auto' : 'unmanaged');

export function statusTable(pools: readonly PoolLine[], now: number): string {
  const rows = pools.map((p) => [
    p.pool, p.mode === 'manual' && p.control?.desired !== undefined ? `manual(${p.control.desired})` : modeOf(p), targets(p.rules ?? []),
    num(p.min), num(p.desired), String(p.size), num(p.max), num(p.healthy), p.breaker?.mode ?? '-',
    p.lastDecision ? `${ago(p.lastDecision.at, now)} ago: ${truncate(p.lastDecision.reason, 70)}` : '-',
  ]);
  return table(['POOL', 'MODE', 'TARGETS', 'MIN', 'DESIRED', 'CURRENT', 'MAX', 'HEALTHY', 'BREAKER', 'LAST DECISION'], rows);
}

/** The conditions worth a line of their own: paused, held, blocked, a policy that failed to reload. */
export function conditions(p: PoolLine, now: number): string[] {
  const out: string[] = [];
  if (!p.managed) out.push('no policy manages this pool (its file was removed); its guests keep running until retired');
  if (p.control?.mode === 'paused') out.push(`paused by ${p.control.by} ${ago(p.control.at, now)} ago${p.control.reason ? `: ${p.control.reason}` : ''}`);
  if (p.control?.mode === 'manual') out.push(`held at ${p.control.desired} by hand by ${p.control.by} ${ago(p.control.at, now)} ago${p.control.reason ? `: ${p.control.reason}` : ''}`);
  for (const b of p.blockers ?? []) out.push(`blocked (${b.cause}): ${b.message}`);
  if (p.policyError) for (const i of p.policyError.issues) out.push(`policy failed to reload (the last good version runs): ${p.policyError.file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`);
  return out;
}

export function guestTable(guests: readonly GuestLine[], now: number): string {
  if (guests.length === 0) return 'no guests';
  return table(['GUEST', 'STATE', 'HOST', 'ADDRESS', 'AGE', 'CPU', 'LOAD', 'HEALTH'], guests.map((g) => {
    const m = g.metrics ?? {};
    const load = Object.entries(m).filter(([k]) => k !== 'cpu').map(([k, v]) => `${k}=${num(v)}`).join(' ') || '-';
    const health = g.backend ? `${g.backend.healthy ? 'healthy' : 'unhealthy'}${g.backend.draining ? ',draining' : ''}` : 'not in balancer';
    return [g.id, g.state, g.host || '-', g.address ?? '-', ago(g.createdAt, now), m.cpu === undefined ? '-' : `${num(m.cpu)}%`, load, health];
  }));
}

export const statusCommand: CommandSpec = {
  name: 'status',
  usage: `usage: gridhost status [POOL] [--json]

Every pool as a line: its mode (auto, paused, manual(N), unmanaged), each rule's value against
its target, min/desired/current/max, healthy guests, the launch breaker and the last decision.
With POOL: that pool's conditions (paused, held by hand, blocked, a policy that failed to
reload), schedules in force, cooldowns and its guests with state, host, age, CPU, load, health.

  --json          print the API's answer (GET /api/pools, or /api/pools/POOL) as JSON

${CONNECTION_HELP}

exit status: 0 shown, 1 gridhost unreachable or the pool unknown, 2 usage`,
  options: { json: { type: 'boolean' } },
  positionals: [0, 1],
  async run({ values, positionals, api, io }) {
    const now = Date.now();
    if (positionals.length === 0) {
      const body = await api.get<PoolsResponse>('/api/pools');
      if (values.json) {
        io.out(JSON.stringify(body, null, 2));
        return EXIT_OK;
      }
      io.out(body.pools.length === 0 ? 'no pools: put a policy in the policies folder' : statusTable(body.pools, now));
      const notes = body.pools.flatMap((p) => conditions(p, now).map((c) => `${p.pool}: ${c}`));
      for (const x of body.invalidPolicies ?? []) for (const i of x.issues) notes.push(`invalid policy file (manages nothing): ${x.file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`);
      if (notes.length > 0) io.out(`\n${notes.join('\n')}`);
      return EXIT_OK;
    }
    const pool = nameArg('POOL', positionals[0]);
    const [detail, all] = await Promise.all([api.get<PoolDetail & Record<string, unknown>>(`/api/pools/${pool}`), api.get<PoolsResponse>('/api/pools')]);
    if (values.json) {
      io.out(JSON.stringify(detail, null, 2));
      return EXIT_OK;
    }
    const line = all.pools.find((p) => p.pool === pool);
    const out: string[] = [];
    if (line) {
      out.push(statusTable([line], now), '');
      const conds = conditions(line, now);
      out.push(`conditions: ${conds.length === 0 ? 'none' : ''}`, ...conds.map((c) => `  ${c}`));
      out.push(`schedules in force: ${line.schedules?.length ? line.schedules.join(', ') : 'none'}`);
    }
    const cd = detail.cooldownRemainingMs;
    if (cd) out.push(`cooldowns: scale-out ${Math.ceil(cd.scaleOut / 1000)}s, scale-in ${Math.ceil(cd.scaleIn / 1000)}s left`);
    out.push('', guestTable(detail.guests ?? [], now));
    if (line?.lastDecision) out.push('', `last decision ${ago(line.lastDecision.at, now)} ago: ${line.lastDecision.reason}`, `why it did (not) scale: gridhost explain ${pool}`);
    io.out(out.join('\n'));
    return EXIT_OK;
  },
};
