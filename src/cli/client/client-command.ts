// What every client command (status, events, explain, scale, pause, resume, retire,
// reset-breaker) shares: its flags, how it finds gridhost's API and token, and exit codes
// scripts can rely on: 0 done, 1 failed (gridhost unreachable, refused, or an error), 2 usage.
import { hostname } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Io } from '../main.ts';
import { ApiClient, ApiError, resolveConnection } from './api-client.ts';
import { UsageError } from '../command-io.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

// The caller used the command wrongly: printed with the command's usage, exit 2 (the CLI's one UsageError).
export { UsageError } from '../command-io.ts';

export const CONNECTION_HELP = `connection:
  --url URL       gridhost's API (default: $GRIDHOST_URL, else http://<api.listen> of
                  gridhost.yaml / $GRIDHOST_API_LISTEN, else http://127.0.0.1:8700)
  --token TOKEN   bearer token for writes (default: $GRIDHOST_API_TOKEN, else api.token of
                  gridhost.yaml); prefer the environment: a flag shows in the process list`;

const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

type Options = NonNullable<ParseArgsConfig['options']>;
export type FlagValues = Record<string, string | boolean | undefined>;

export interface CommandSpec {
  name: string;
  usage: string;
  options: Options;
  /** How many positional arguments, at least and at most. */
  positionals: [number, number];
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandContext {
  values: FlagValues;
  positionals: string[];
  api: ApiClient;
  io: Io;
  /** Who the CLI says is asking, for the events of writes: $GRIDHOST_ACTOR, else user@host. */
  actor: string;
}

export async function runClientCommand(spec: CommandSpec, argv: string[], io: Io, env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  let parsed: { values: FlagValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...spec.options, ...CONNECTION_OPTIONS }, allowPositionals: true, strict: true }) as { values: FlagValues; positionals: string[] };
  } catch (e) {
    io.err(`gridhost ${spec.name}: ${(e as Error).message.split('\n')[0]}\n\n${spec.usage}`);
    return EXIT_USAGE;
  }
  if (parsed.values.help) {
    io.out(spec.usage);
    return EXIT_OK;
  }
  const [lo, hi] = spec.positionals;
  if (parsed.positionals.length < lo || parsed.positionals.length > hi) {
    const want = lo === hi ? `${lo}` : `${lo} to ${hi}`;
    io.err(`gridhost ${spec.name}: expected ${want} argument${hi === 1 ? '' : 's'}, got ${parsed.positionals.length}\n\n${spec.usage}`);
    return EXIT_USAGE;
  }
  const values = parsed.values;
  const conn = resolveConnection({ url: values.url as string | undefined, token: values.token as string | undefined }, env, cwd);
  const api = new ApiClient(conn);
  try {
    return await spec.run({ values, positionals: parsed.positionals, api, io, actor: actorOf(env) });
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`gridhost ${spec.name}: ${e.message}\n\n${spec.usage}`);
      return EXIT_USAGE;
    }
    if (e instanceof ApiError) {
      io.err(`gridhost ${spec.name}: ${e.message}`);
      // Another process leads the pool: say how to ask it (the token is never echoed).
      const api = e.code === 'GH_NOT_LEADER' ? (e.details?.leader as { api?: unknown } | undefined)?.api : undefined;
      if (typeof api === 'string') io.err(`  run it there: gridhost ${spec.name} --url ${api} ${parsed.positionals.join(' ')}`.trimEnd());
      return EXIT_FAILED;
    }
    throw e;
  }
}

export function actorOf(env: NodeJS.ProcessEnv): string {
  if (env.GRIDHOST_ACTOR) return env.GRIDHOST_ACTOR;
  const user = env.SUDO_USER || env.USER || env.LOGNAME || 'unknown';
  return `${user}@${env.HOSTNAME || hostname()}`;
}


/** A pool or guest name given on the command line, checked before it goes into a URL path. */
export function nameArg(what: string, v: string | undefined): string {
  if (!v || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(v)) throw new UsageError(`${what} must be a name like web or web-3f2a9c1d (found ${JSON.stringify(v ?? '')})`);
  return v;
}
