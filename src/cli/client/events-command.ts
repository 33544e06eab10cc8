// `gridhost events [--pool P] [--follow]`: the event log, oldest first; with --follow it keeps
// polling and prints each new event, and each event again when its outcome changes
// (started -> done), until interrupted.
import { CONNECTION_HELP, EXIT_OK, nameArg, UsageError, type CommandSpec } from './client-command.ts';
import { clock } from './format.ts';

export interface EventLine {
  id?: number | string;
  pool: string;
  at: string;
  direction: string;
  from: number;
  to: number;
  reason: string;
  outcome: string;
  detail?: string;
  action?: string;
  by?: string;
}

export function eventLine(e: EventLine, now: number): string {
  const what = e.action === 'scale' ? `scale to ${e.to}` : e.action ?? `${e.direction} ${e.from} -> ${e.to}`;
  const by = e.by ? ` [by ${e.by}]` : '';
  return `${clock(e.at, now)}  ${e.pool}  ${what}  ${e.outcome}${by}  ${e.reason}${e.detail ? ` (${e.detail})` : ''}`;
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((r) => {
  const t = setTimeout(r, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
});

export const eventsCommand: CommandSpec = {
  name: 'events',
  usage: `usage: gridhost events [--pool POOL] [--limit N] [--follow] [--json]

Scale events and operator actions, oldest first: time (UTC), pool, what, outcome, who asked
(for operator actions), reason and detail.

  --pool POOL     only this pool
  --limit N       the last N events (1..1000, default 20)
  --follow, -f    keep printing new events and outcome changes until interrupted (Ctrl-C)
  --json          one JSON object per event and line

${CONNECTION_HELP}

exit status: 0 shown (or following stopped by a signal), 1 gridhost unreachable or the pool unknown, 2 usage`,
  options: { pool: { type: 'string' }, limit: { type: 'string' }, follow: { type: 'boolean', short: 'f' }, json: { type: 'boolean' } },
  positionals: [0, 0],
  async run({ values, api, io }) {
    const pool = values.pool === undefined ? undefined : nameArg('--pool', values.pool as string);
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be an integer from 1 to 1000 (found ${JSON.stringify(values.limit)})`);
    const print = (e: EventLine) => io.out(values.json ? JSON.stringify(e) : eventLine(e, Date.now()));
    const fetchEvents = async (n: number) => (await api.get<{ events: EventLine[] }>('/api/events', { pool, limit: n })).events;

    const seen = new Map<string, string>();
    const key = (e: EventLine) => String(e.id ?? `${e.pool}@${e.at}`);
    // Following: everything up to now counts as seen (only the last --limit are printed), so a
    // later poll prints what is new, not older history.
    const FOLLOW_WINDOW = 100;
    const known = await fetchEvents(values.follow ? Math.max(limit, FOLLOW_WINDOW) : limit);
    for (const e of known) seen.set(key(e), e.outcome);
    for (const e of known.slice(0, limit).reverse()) print(e);
    if (!values.follow) return EXIT_OK;

    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      while (!stop.signal.aborted) {
        await sleep(1000, stop.signal);
        if (stop.signal.aborted) break;
        for (const e of (await fetchEvents(FOLLOW_WINDOW)).reverse()) {
          if (seen.get(key(e)) === e.outcome) continue;
          seen.set(key(e), e.outcome);
          print(e);
        }
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return EXIT_OK;
  },
};
