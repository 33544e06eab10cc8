// gridhost command line: `gridhost run | validate | simulate | help | version`. Every command
// answers --help (its usage) and --version, exit 0, before it reads anything else.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PolicyError, formatIssue, isGridhostError } from '../errors/errors.ts';
import { loadConfig } from '../config/load-config.ts';
import { UsageError, type CommandIo } from './command-io.ts';
import { CLIENT_COMMANDS, CLIENT_USAGE } from './client/index.ts';
import { runClientCommand } from './client/client-command.ts';

const USAGE = `usage: gridhost <command> [options]

commands:
  run [--config FILE]      start the control loops, balancer front ends and API (default)
  validate [--config FILE] [PATH...]
                           check the config and policy files (default: the config in use and
                           its policies folder); exit 1 on any error
  simulate --policy FILE (--trace FILE | --replay POOL [--since WHEN] [--until WHEN])
           [--capacity RPS] [--boot S] [--plot OUT.svg] [--json]
                           replay a load trace, or a pool's recorded samples, through a policy
                           with a simulated clock (gridhost simulate --help for all options)
${CLIENT_USAGE}
  help [COMMAND]           this text, or a command's options (also: gridhost COMMAND --help)
  version                  print the version (also: gridhost --version)

configuration: gridhost.yaml in the working directory (or GRIDHOST_CONFIG, or --config), with
GRIDHOST_* environment overrides; see README.md.`;

const RUN_USAGE = `usage: gridhost run [--config FILE]

Starts the control loops, the balancer front ends and the API for every policy in the policies
folder (changed files are reloaded while it runs). SIGINT/SIGTERM stops gridhost; the guests keep
running and are adopted at the next start (retire a pool's guests with the API first to stop them).

  --config FILE   config file (default ./gridhost.yaml or $GRIDHOST_CONFIG)`;

/** package.json's version: the one place it is written. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export type Io = CommandIo;

export interface CliContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

interface Command {
  usage(): Promise<string>;
  run(args: string[], io: Io, ctx: CliContext): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  run: {
    usage: async () => RUN_USAGE,
    async run(args, _io, ctx) {
      let file: string | undefined;
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        if (a === '--config' || a.startsWith('--config=')) {
          file = a === '--config' ? args[++i] : a.slice('--config='.length);
          if (file === undefined || file.trim() === '') throw new UsageError('--config needs a file');
        } else throw new UsageError(`unknown ${a.startsWith('-') ? 'option' : 'argument'} "${a}"`);
      }
      const config = loadConfig({ file, env: ctx.env, cwd: ctx.cwd });
      const { runServer } = await import('./run-command.ts');
      return await runServer(config, []);
    },
  },
  validate: {
    usage: async () => (await import('./validate-command.ts')).VALIDATE_USAGE,
    async run(args, io, ctx) {
      const { runValidate } = await import('./validate-command.ts');
      return await runValidate(args, io, (file) => loadConfig({ file, env: ctx.env, cwd: ctx.cwd }));
    },
  },
  simulate: {
    usage: async () => (await import('../simulator/simulate-command.ts')).SIMULATE_USAGE,
    async run(args, io, ctx) {
      const { runSimulate } = await import('../simulator/simulate-command.ts');
      return await runSimulate(args, io, { env: ctx.env, cwd: ctx.cwd });
    },
  },
  // status, events, explain, scale, pause, resume, retire, reset-breaker, rollout: over a running gridhost's API.
  ...Object.fromEntries(Object.entries(CLIENT_COMMANDS).map(([name, spec]): [string, Command] => [name, {
    usage: async () => spec.usage,
    run: (args, io, ctx) => runClientCommand(spec, args, io, ctx.env, ctx.cwd),
  }])),
};

const HELP = new Set(['help', '--help', '-h']);
const VERSION_FLAGS = new Set(['version', '--version', '-V']);

/** The options of a command line: what comes before a lone `--` (after it, only operands). */
function optionsOf(args: readonly string[]): readonly string[] {
  const end = args.indexOf('--');
  return end < 0 ? args : args.slice(0, end);
}

/** Runs one command line; returns the exit status, or -1 when `run` keeps the process alive. */
export async function main(argv: string[], io: Io = stdio, ctx: CliContext = { env: process.env, cwd: process.cwd() }): Promise<number> {
  const [name = 'run', ...rest] = argv;
  if (VERSION_FLAGS.has(name)) {
    io.out(`gridhost ${VERSION}`);
    return 0;
  }
  if (HELP.has(name)) {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    if (rest[0] !== undefined && topic === undefined) {
      io.err(`gridhost: no command "${rest[0]}"\n\n${USAGE}`);
      return 2;
    }
    io.out(topic ? await topic.usage() : USAGE);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.err(`gridhost: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  const options = optionsOf(rest);
  if (options.some((a) => HELP.has(a) && a !== 'help')) {
    io.out(await command.usage());
    return 0;
  }
  if (options.includes('--version')) {
    io.out(`gridhost ${VERSION}`);
    return 0;
  }
  try {
    return await command.run(rest, io, ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`gridhost ${name}: ${e.message}\n\n${await command.usage()}`);
      return 2;
    }
    if (e instanceof PolicyError) {
      for (const i of e.issues) io.err(formatIssue(i));
    } else if (isGridhostError(e)) {
      io.err(`gridhost: ${e.code}: ${e.message}`);
    } else {
      io.err(`gridhost: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    }
    return 1;
  }
}

const stdio: Io = {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
};

const invokedDirectly = (() => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

const viaBin = process.env.GRIDHOST_CLI === '1';
delete process.env.GRIDHOST_CLI; // not for guest processes we spawn

if (invokedDirectly || viaBin) {
  const code = await main(process.argv.slice(2));
  // `run` keeps the process alive through its servers; the others exit with their code.
  if (code !== -1) process.exit(code);
}
