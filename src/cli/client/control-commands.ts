// The write commands: scale, pause, resume, retire, reset-breaker. Each sends who is asking
// (GRIDHOST_ACTOR, else user@host) and --reason to the API, which records both in the event.
import { tryParseDuration } from '../../policy/duration.ts';
import { CONNECTION_HELP, EXIT_FAILED, EXIT_OK, nameArg, UsageError, type CommandContext, type CommandSpec } from './client-command.ts';
import type { PoolsResponse } from './status-command.ts';

const WRITE_HELP = `  --reason TEXT   why (recorded in the event with who asked: $GRIDHOST_ACTOR, else user@host)
  --json          print the API's answer as JSON

${CONNECTION_HELP}`;

const reasonOf = (ctx: CommandContext) => (ctx.values.reason === undefined ? '' : String(ctx.values.reason));

function printResult(ctx: CommandContext, res: { event?: { reason?: string; detail?: string } }, fallback: string): number {
  if (ctx.values.json) ctx.io.out(JSON.stringify(res, null, 2));
  else ctx.io.out(`${res.event?.reason ?? fallback}${res.event?.detail ? ` (${res.event.detail})` : ''}`);
  return EXIT_OK;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until the pool has `want` counted guests, all healthy, printing the size as it changes. */
async function waitForSize(ctx: CommandContext, pool: string, want: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const p = (await ctx.api.get<PoolsResponse>('/api/pools')).pools.find((x) => x.pool === pool);
    const line = p ? `${pool}: ${p.size} of ${want} (${p.healthy ?? '?'} healthy)` : `${pool}: gone`;
    if (line !== last && !ctx.values.json) ctx.io.out(line);
    last = line;
    if (p && p.size === want && p.healthy === want) return EXIT_OK;
    for (const b of p?.blockers ?? []) {
      ctx.io.err(`gridhost scale: ${pool} is blocked (${b.cause}): ${b.message}`);
      return EXIT_FAILED;
    }
    if (Date.now() > deadline) {
      ctx.io.err(`gridhost scale: ${pool} did not reach ${want} healthy guests within ${Math.round(timeoutMs / 1000)}s`);
      return EXIT_FAILED;
    }
    await sleep(1000);
  }
}

export const scaleCommand: CommandSpec = {
  name: 'scale',
  usage: `usage: gridhost scale POOL N [--force] [--reason TEXT] [--wait [--timeout D]] [--json]

Hold POOL at N guests by hand: gridhost launches or retires guests to get there and keeps it
there (its rules and schedules do not move it) until \`gridhost resume POOL\`. N must be within
the bounds in force; --force allows 0 up to limits.hard_max.

  --force         allow N outside the policy's bounds (up to limits.hard_max)
  --wait          return when the pool has N healthy guests (progress on stdout)
  --timeout D     with --wait, give up after D (default 10m)
${WRITE_HELP}

exit status: 0 accepted (with --wait: reached), 1 refused or failed, 2 usage`,
  options: { force: { type: 'boolean' }, reason: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
  positionals: [2, 2],
  async run(ctx) {
    const pool = nameArg('POOL', ctx.positionals[0]);
    const raw = ctx.positionals[1]!;
    if (!/^\d+$/.test(raw)) throw new UsageError(`N must be a whole number of guests (found ${JSON.stringify(raw)})`);
    let timeoutMs = 600_000;
    if (ctx.values.timeout !== undefined) {
      const d = tryParseDuration(String(ctx.values.timeout));
      if (!d.ok || d.ms <= 0) throw new UsageError(`--timeout must be a duration like 90s or 10m (found ${JSON.stringify(ctx.values.timeout)})`);
      timeoutMs = d.ms;
    }
    const desired = Number(raw);
    const res = await ctx.api.post<{ event?: { reason?: string; detail?: string } }>(`/api/pools/${pool}/scale`, { desired, force: ctx.values.force === true, reason: reasonOf(ctx), by: ctx.actor });
    printResult(ctx, res, `${pool} held at ${desired}`);
    return ctx.values.wait ? waitForSize(ctx, pool, desired, timeoutMs) : EXIT_OK;
  },
};

function simple(name: 'pause' | 'resume' | 'reset-breaker', path: string, what: string, doc: string): CommandSpec {
  return {
    name,
    usage: `usage: gridhost ${name} POOL [--reason TEXT] [--json]

${doc}

${WRITE_HELP}

exit status: 0 done (also when the pool already was so), 1 refused or failed, 2 usage`,
    options: { reason: { type: 'string' }, json: { type: 'boolean' } },
    positionals: [1, 1],
    async run(ctx) {
      const pool = nameArg('POOL', ctx.positionals[0]);
      const res = await ctx.api.post<{ event?: { reason?: string; detail?: string } }>(`/api/pools/${pool}/${path}`, { reason: reasonOf(ctx), by: ctx.actor });
      return printResult(ctx, res, `${pool} ${what}`);
    },
  };
}

export const pauseCommand = simple('pause', 'pause', 'paused',
  'Pause POOL: it keeps its guests and takes no automatic action (rules, schedules and bounds do\nnot move it) until `gridhost resume POOL`. Operator actions (scale, retire) still work.');
export const resumeCommand = simple('resume', 'resume', 'resumed',
  'Hand POOL back to its policy after `gridhost pause` or `gridhost scale`.');
export const resetBreakerCommand = simple('reset-breaker', 'breaker/reset', 'breaker reset',
  'Close POOL\'s launch circuit breaker (opened by consecutive failed launches) once the cause is\nfixed, instead of waiting for breaker.open_for.');

export const retireCommand: CommandSpec = {
  name: 'retire',
  usage: `usage: gridhost retire POOL GUEST [--reason TEXT] [--json]

Drain GUEST out of the balancer, stop it and delete its clone. When POOL would fall below its
min (or the size it is held at by hand), a replacement is launched and healthy first. Returns
when the guest is gone.

${WRITE_HELP}

exit status: 0 retired, 1 refused or failed (unknown guest, not healthy yet, cleanup failed), 2 usage`,
  options: { reason: { type: 'string' }, json: { type: 'boolean' } },
  positionals: [2, 2],
  async run(ctx) {
    const pool = nameArg('POOL', ctx.positionals[0]);
    const guest = nameArg('GUEST', ctx.positionals[1]);
    if (!ctx.values.json) ctx.io.out(`retiring ${guest} (draining, then stopping; a replacement first if ${pool} would fall below its floor)...`);
    const res = await ctx.api.post<{ replacement?: string; notReplaced?: string; event?: { reason?: string; detail?: string } }>(`/api/pools/${pool}/guests/${guest}/retire`, { reason: reasonOf(ctx), by: ctx.actor });
    return printResult(ctx, res, `${guest} retired`);
  },
};
