// `gridhost explain POOL [--at TIME]`: why the pool did (not) scale. The newest evaluation (or
// the last one at or before TIME) in full: what the rules decided, what gridhost did or why it
// held, each rule's value against its target and its verdict; then the evaluations before it,
// repeats folded, and a count of the holds by cause.
import { parseWhen } from '../../simulator/replay.ts';
import { tryParseDuration } from '../../policy/duration.ts';
import { CONNECTION_HELP, EXIT_FAILED, EXIT_OK, nameArg, UsageError, type CommandSpec } from './client-command.ts';
import type { EventLine } from './events-command.ts';
import { eventLine } from './events-command.ts';
import { ago, clock, num, table } from './format.ts';
import type { DecisionView } from '../../api/decision-views.ts';

export interface DecisionsResponse {
  pool: string;
  /** The oldest evaluation gridhost still keeps (ISO), if any. */
  oldest?: string;
  decisions: DecisionView[];
}

function ruleRows(d: DecisionView): string[][] {
  return d.rules.map((r) => {
    const u = r.metric === 'cpu' ? '%' : '';
    const against = r.target !== undefined ? `target ${num(r.target)}${u}` : [r.above !== undefined ? `above ${num(r.above)}${u}` : '', r.below !== undefined ? `below ${num(r.below)}${u}` : ''].filter(Boolean).join(' / ');
    const seen = r.value === undefined ? `${r.metric} no value` : `${r.metric} ${num(r.value)}${u}`;
    const verdict = r.wants !== undefined ? `wants ${r.wants}: ${r.reason ?? ''}` : r.idle === 'not-triggered' || r.idle === undefined ? 'no change' : `no opinion (${r.idle})${r.note ? `: ${r.note}` : ''}`;
    return [r.rule, r.strategy, seen, against, verdict];
  });
}

export function explainText(pool: string, res: DecisionsResponse, now: number, limit: number): string {
  const [d, ...rest] = res.decisions;
  if (!d) return `${pool}: no evaluation recorded yet${res.oldest ? '' : ' (gridhost keeps the last hour of evaluations in memory; it may have just started)'}`;
  const g = d.guests;
  const states = Object.entries(g.byState).filter(([, n]) => (n ?? 0) > 0).map(([s, n]) => `${n} ${s}`).join(', ') || 'none';
  const out: string[] = [];
  out.push(`${pool}: mode ${d.mode}, ${g.counted} counted guest${g.counted === 1 ? '' : 's'} (${states}), bounds ${d.min}..${d.max}${d.schedules.length ? ` (schedules ${d.schedules.join(', ')})` : ''}`);
  out.push(`at ${clock(d.at, now)} UTC (${ago(d.at, now)} ago):`);
  out.push(`  rules decided: ${d.decided.reason}`);
  out.push(d.acted ? `  gridhost did:  ${d.acted.direction} ${d.acted.from} -> ${d.acted.to}` : `  held:          ${d.why}`);
  if (d.rules.length > 0) {
    out.push('  rules:');
    out.push(table(['RULE', 'STRATEGY', 'VALUE', 'AGAINST', 'VERDICT'], ruleRows(d)).split('\n').map((l) => `    ${l}`).join('\n'));
  }
  if (rest.length > 0) {
    out.push('', 'before that (newest first):');
    let i = 0;
    while (i < rest.length) {
      let j = i + 1;
      while (j < rest.length && rest[j]!.why === rest[i]!.why) j++;
      const first = rest[i]!;
      const span = j - i > 1 ? `${clock(rest[j - 1]!.at, now)}..${clock(first.at, now)} (${j - i}x)` : clock(first.at, now);
      out.push(`  ${span}  ${first.acted ? '' : 'held: '}${first.why}`);
      i = j;
    }
  }
  const counts = new Map<string, number>();
  for (const e of res.decisions) {
    const k = e.acted ? `acted (${e.acted.direction})` : e.hold?.cause ?? 'held';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  out.push('', `in these ${res.decisions.length} evaluation(s)${res.decisions.length >= limit ? ` (the last ${limit}; --limit for more)` : ''}: ${[...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  return out.join('\n');
}

export const explainCommand: CommandSpec = {
  name: 'explain',
  usage: `usage: gridhost explain POOL [--at TIME] [--limit N] [--json]

Why did POOL (not) scale? The latest evaluation (or the last at or before TIME): what its rules
decided, what gridhost did or why it held (cooldown with time left, stabilization with the
recommendation that held it, warm-up, a change in flight, bounds, the breaker, missing metrics,
paused or held by hand), and each rule's value against its target; then the evaluations before
it. gridhost keeps the last hour of evaluations; older than that, the scale events around TIME.

  --at TIME       an ISO-8601 time (2026-01-05T09:00:00Z) or a duration ago (10m, 2h, 90s-ago)
  --limit N       evaluations to look at (1..1000, default 60)
  --json          print the API's answer (GET /api/pools/POOL/decisions) as JSON

${CONNECTION_HELP}

exit status: 0 explained, 1 gridhost unreachable, the pool unknown or nothing recorded at TIME, 2 usage`,
  options: { at: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  positionals: [1, 1],
  async run({ values, positionals, api, io }) {
    const pool = nameArg('POOL', positionals[0]);
    const now = Date.now();
    const limit = values.limit === undefined ? 60 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be an integer from 1 to 1000 (found ${JSON.stringify(values.limit)})`);
    let until: number | undefined;
    if (values.at !== undefined) {
      until = parseWhen(String(values.at), now, (s) => { const r = tryParseDuration(s); return r.ok ? r.ms : undefined; });
      if (until === undefined) throw new UsageError(`--at "${values.at}" is neither an ISO-8601 time (2026-01-05T09:00:00Z) nor a duration ago (10m, 2h)`);
    }
    const res = await api.get<DecisionsResponse>(`/api/pools/${pool}/decisions`, { limit, ...(until !== undefined ? { until: new Date(until).toISOString() } : {}) });
    if (values.json) {
      io.out(JSON.stringify(res, null, 2));
      return EXIT_OK;
    }
    if (res.decisions.length > 0 || until === undefined) {
      io.out(explainText(pool, res, now, limit));
      return EXIT_OK;
    }
    // Before the journal's memory: what the event log says happened around then.
    const events = (await api.get<{ events: EventLine[] }>('/api/events', { pool, limit: 1000 })).events
      .filter((e) => Date.parse(e.at) <= until! && Date.parse(e.at) >= until! - 3600_000).reverse();
    io.out(`${pool}: no evaluation kept for ${new Date(until).toISOString()}: gridhost keeps the last hour in memory${res.oldest ? ` (since ${res.oldest})` : ''}.`);
    io.out(events.length === 0 ? 'the event log has no scale event in the hour before it' : `scale events in the hour before it:\n${events.map((e) => `  ${eventLine(e, now)}`).join('\n')}`);
    return events.length === 0 ? EXIT_FAILED : EXIT_OK;
  },
};
