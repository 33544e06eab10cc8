// gridhost rollout POOL: replace the guests made from another template or base image, one batch
// at a time with surge (POST /api/pools/:pool/rollout); --wait follows it to its end.
import { tryParseDuration } from '../../policy/duration.ts';
import { CONNECTION_HELP, EXIT_FAILED, EXIT_OK, nameArg, UsageError, type CommandContext, type CommandSpec } from './client-command.ts';

interface RolloutAnswer {
  state: 'idle' | 'running' | 'done' | 'failed';
  outdated?: string[];
  waiting?: string;
  batches?: number;
  replaced?: string[];
  launched?: string[];
  failure?: { code: string; message: string };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function follow(ctx: CommandContext, pool: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = (await ctx.api.get<{ rollout?: RolloutAnswer }>(`/api/pools/${pool}`)).rollout;
    const line = `${pool}: rollout ${r?.state ?? 'idle'}, ${r?.replaced?.length ?? 0} replaced in ${r?.batches ?? 0} batch(es), ${r?.outdated?.length ?? '?'} outdated${r?.waiting ? ` (waits: ${r.waiting})` : ''}`;
    if (line !== last && !ctx.values.json) ctx.io.out(line);
    last = line;
    if (r?.state === 'done') return EXIT_OK;
    if (r?.state === 'failed') {
      ctx.io.err(`gridhost rollout: ${pool}: stopped, the old guests stay: ${r.failure?.message ?? 'new guests failed'}`);
      return EXIT_FAILED;
    }
    if (Date.now() > deadline) {
      ctx.io.err(`gridhost rollout: ${pool} did not finish its rollout within ${Math.round(timeoutMs / 1000)}s (it goes on)`);
      return EXIT_FAILED;
    }
    await sleep(1000);
  }
}

export const rolloutCommand: CommandSpec = {
  name: 'rollout',
  usage: `usage: gridhost rollout POOL [--reason TEXT] [--wait [--timeout D]] [--json]

Replace POOL's guests that were made from another template or base image than the policy's
current ones (an edited template, a new base image), one batch at a time: rollout.max_surge
new guests are launched and must be healthy and registered before as many old ones are
drained and retired, so the pool never drops below its size (rollout.max_unavailable: 0).
New guests that fail stop the rollout; the old guests stay.

  --wait          return when the rollout is done (progress on stdout); exit 1 if it stops
  --timeout D     with --wait, give up waiting after D (default 30m; the rollout goes on)
  --reason TEXT   why (recorded in the event with who asked: $GRIDHOST_ACTOR, else user@host)
  --json          print the API's answer as JSON

${CONNECTION_HELP}

exit status: 0 started (nothing to do: every guest current; with --wait: done), 1 refused or failed, 2 usage`,
  options: { reason: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
  positionals: [1, 1],
  async run(ctx) {
    const pool = nameArg('POOL', ctx.positionals[0]);
    let timeoutMs = 1_800_000;
    if (ctx.values.timeout !== undefined) {
      const d = tryParseDuration(String(ctx.values.timeout));
      if (!d.ok || d.ms <= 0) throw new UsageError(`--timeout must be a duration like 90s or 10m (found ${JSON.stringify(ctx.values.timeout)})`);
      timeoutMs = d.ms;
    }
    const res = await ctx.api.post<{ outdated: string[]; event?: { reason?: string; detail?: string } }>(`/api/pools/${pool}/rollout`, { reason: ctx.values.reason === undefined ? '' : String(ctx.values.reason), by: ctx.actor });
    if (ctx.values.json) ctx.io.out(JSON.stringify(res, null, 2));
    else ctx.io.out(`${res.event?.reason ?? `${pool} rollout`}${res.event?.detail ? ` (${res.event.detail})` : ''}`);
    if (!ctx.values.wait || res.outdated.length === 0) return EXIT_OK;
    return follow(ctx, pool, timeoutMs);
  },
};
