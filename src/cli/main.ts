// gridhost command line: `gridhost run | validate | simulate | help`.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PolicyError, formatIssue, isGridhostError } from '../errors/errors.ts';
import { loadConfig } from '../config/load-config.ts';

const USAGE = `usage: gridhost <command> [options]

commands:
  run                      start the control loops, balancer front ends and API (default)
  validate [PATH...]       check policy files (default: the policies folder); exit 1 on any error
  simulate --policy FILE (--trace FILE | --replay POOL [--since WHEN] [--until WHEN])
           [--capacity RPS] [--boot S] [--plot OUT.svg] [--json]
                           replay a load trace, or a pool's recorded samples, through a policy
                           with a simulated clock (gridhost simulate --help for all options)
  help                     this text

configuration: gridhost.yaml in the working directory (or GRIDHOST_CONFIG), with GRIDHOST_*
environment overrides; see README.md.`;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: Io = {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
};

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [command = 'run', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    io.out(USAGE);
    return 0;
  }
  try {
    if (command === 'simulate') {
      const { runSimulate } = await import('../simulator/simulate-command.ts');
      return await runSimulate(rest, io);
    }
    const config = loadConfig({ env: process.env, cwd: process.cwd() });
    if (command === 'validate') {
      const { runValidate } = await import('./validate-command.ts');
      return await runValidate(rest, io, config);
    }
    if (command === 'run') {
      const { runServer } = await import('./run-command.ts');
      return await runServer(config, rest);
    }
    io.err(`gridhost: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  } catch (e) {
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
