// gridhost hosts | drain-host HOST | undrain-host HOST (issue 14, host evacuation): close a
// hypervisor host for maintenance; every pool moves its guests off it one at a time without
// dropping below its size; --wait returns once none is left on it.
import { tryParseDuration } from '../../policy/duration.ts';
import { CONNECTION_HELP, EXIT_FAILED, EXIT_OK, nameArg, UsageError, type CommandContext, type CommandSpec } from './client-command.ts';

interface HostAnswer {
  host: string;
  driver: string;
  state: 'open' | 'draining' | 'drained';
  drain?: { by: string; reason: string; at: string };
  guests: { pool: string; id: string; state: string }[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function line(h: HostAnswer): string {
  const pools = new Map<string, number>();
  for (const g of h.guests) pools.set(g.pool, (pools.get(g.pool) ?? 0) + 1);
  const where = [...pools].map(([p, n]) => `${p} ${n}`).join(', ') || 'no guests';
  return `${h.host.padEnd(16)} ${h.driver.padEnd(6)} ${h.state.padEnd(9)} ${where}${h.drain ? `  (drained by ${h.drain.by} at ${h.drain.at}${h.drain.reason ? `: ${h.drain.reason}` : ''})` : ''}`;
}

function timeoutOf(ctx: CommandContext, def: number): number {
  if (ctx.values.timeout === undefined) return def;
  const d = tryParseDuration(String(ctx.values.timeout));
  if (!d.ok || d.ms <= 0) throw new UsageError(`--timeout must be a duration like 90s or 10m (found ${JSON.stringify(ctx.values.timeout)})`);
  return d.ms;
}

async function waitEmpty(ctx: CommandContext, host: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const h = await ctx.api.get<HostAnswer>(`/api/hosts/${host}`);
    const l = line(h);
    if (l !== last && !ctx.values.json) ctx.io.out(l);
    last = l;
    if (h.state === 'drained') return EXIT_OK;
    if (h.state === 'open') {
      ctx.io.err(`gridhost drain-host: ${host} was opened again (undrain-host) while waiting`);
      return EXIT_FAILED;
    }
    if (Date.now() > deadline) {
      ctx.io.err(`gridhost drain-host: ${host} still has ${h.guests.length} guest(s) after ${Math.round(timeoutMs / 1000)}s (the evacuation goes on; \`gridhost status POOL\` says why a pool waits)`);
      return EXIT_FAILED;
    }
    await sleep(1000);
  }
}

export const hostsCommand: CommandSpec = {
  name: 'hosts',
  usage: `usage: gridhost hosts [--json]

Every host gridhost places guests on, with its driver, its state (open; draining: closed for
placement, guests still on it; drained: closed and empty) and its guests per pool.

${CONNECTION_HELP}`,
  options: { json: { type: 'boolean' } },
  positionals: [0, 0],
  async run(ctx) {
    const res = await ctx.api.get<{ hosts: HostAnswer[] }>('/api/hosts');
    if (ctx.values.json) ctx.io.out(JSON.stringify(res, null, 2));
    else for (const h of res.hosts) ctx.io.out(line(h));
    return EXIT_OK;
  },
};

const WRITE_HELP = `  --reason TEXT   why (recorded with who asked: $GRIDHOST_ACTOR, else user@host)
  --json          print the API's answer as JSON

${CONNECTION_HELP}`;

export const drainHostCommand: CommandSpec = {
  name: 'drain-host',
  usage: `usage: gridhost drain-host HOST [--reason TEXT] [--wait [--timeout D]] [--json]

Close HOST for placement and move every pool's guests off it, one guest at a time: a new guest
is launched on another host and must serve before the old one is drained and retired, so no
pool drops below its size. HOST stays closed until \`gridhost undrain-host HOST\`.

  --wait          return when no guest is left on HOST (progress on stdout)
  --timeout D     with --wait, give up waiting after D (default 30m; the evacuation goes on)
${WRITE_HELP}

exit status: 0 closed (with --wait: empty), 1 refused or failed, 2 usage`,
  options: { reason: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
  positionals: [1, 1],
  async run(ctx) {
    const host = nameArg('HOST', ctx.positionals[0]);
    const timeoutMs = timeoutOf(ctx, 1_800_000);
    const res = await ctx.api.post<{ changed: boolean; host: HostAnswer }>(`/api/hosts/${host}/drain`, { reason: ctx.values.reason === undefined ? '' : String(ctx.values.reason), by: ctx.actor });
    if (ctx.values.json) ctx.io.out(JSON.stringify(res, null, 2));
    else ctx.io.out(`${res.changed ? 'drained' : 'already drained'}: ${line(res.host)}`);
    return ctx.values.wait ? waitEmpty(ctx, host, timeoutMs) : EXIT_OK;
  },
};

export const undrainHostCommand: CommandSpec = {
  name: 'undrain-host',
  usage: `usage: gridhost undrain-host HOST [--reason TEXT] [--json]

Open HOST for placement again. Guests moved off it stay where they are.

${WRITE_HELP}

exit status: 0 open, 1 refused or failed, 2 usage`,
  options: { reason: { type: 'string' }, json: { type: 'boolean' } },
  positionals: [1, 1],
  async run(ctx) {
    const host = nameArg('HOST', ctx.positionals[0]);
    const res = await ctx.api.post<{ changed: boolean; host: HostAnswer }>(`/api/hosts/${host}/undrain`, { reason: ctx.values.reason === undefined ? '' : String(ctx.values.reason), by: ctx.actor });
    if (ctx.values.json) ctx.io.out(JSON.stringify(res, null, 2));
    else ctx.io.out(`${res.changed ? 'opened' : 'already open'}: ${line(res.host)}`);
    return EXIT_OK;
  },
};
