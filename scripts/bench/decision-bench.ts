// Decision-core benchmark: one control-loop tick for 1,000 pools of 8 guests, each pool's
// memory holding a 60-sample window, 3 rules (busy/idle cpu thresholds + rps target tracking:
// one rule of each strategy kind and direction). A tick is what the pool loop does per pool
// once it has the sample: fold it into the pool's memory and decide (pool-memory.ts tick()).
// The world and the timing are in decision-world.ts. Prints the figures next to their targets;
// asserts nothing.
//
// Each world runs in a fresh process (one world's garbage never inflates the other's memory),
// twice: as gridhost runs (through tsx) and as plain node on the decision core bundled by
// esbuild. Both are judged against the targets: tsx's loader (its compiler and worker thread)
// costs any process about 35 MiB before the first pool exists, which the plain figure leaves out.
// Memory is measured after a whole window of timed ticks (steady state), and beside it the same
// process with the modules loaded and no pool, so what the pools and their ticks cost is
// printed apart from what node and tsx cost.
//   npx tsx scripts/bench/decision-bench.ts     (or: npm run bench -- decision)
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import type { WorldResult } from './decision-world.ts';

/** Targets (issue 13): CPU per tick, median of the runs, and the process's resident memory. */
const TARGET_CPU_MS = 5;
const TARGET_RSS_MIB = 100;
const POOLS = 1000;
const GUESTS = 8;

const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
const execFileP = promisify(execFile);
const WORLD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'decision-world.ts');

async function child(args: string[]): Promise<WorldResult> {
  const { stdout } = await execFileP(process.execPath, args, { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as WorldResult;
}

export async function benchDecision(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gridhost-decision-bench-'));
  try {
    const bundle = path.join(dir, 'decision-world.mjs');
    await build({ entryPoints: [WORLD], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'error' });
    const lines: string[] = [];
    const tsxBase = await child(['--import=tsx', '--expose-gc', WORLD, 'none']);
    const plainBase = await child(['--expose-gc', bundle, 'none']);
    for (const world of ['plain', 'schedule'] as const) {
      const tsx = await child(['--import=tsx', '--expose-gc', WORLD, world]);
      const plain = await child(['--expose-gc', bundle, world]);
      const mix = Object.entries(tsx.directions).map(([d, n]) => `${d} ${n}`).join(', ');
      lines.push(
        `decision core: ${POOLS} pools x ${GUESTS} guests, ${tsx.windowTicks} samples in each window, 3 rules${world === 'schedule' ? ', 1 schedule' : ''} [${mix}]\n` +
          `  cpu median ${tsx.cpuMedianMs.toFixed(2)} ms/tick as gridhost runs (tsx; target <= ${TARGET_CPU_MS} ms: ${met(tsx.cpuMedianMs <= TARGET_CPU_MS)}), ` +
          `${plain.cpuMedianMs.toFixed(2)} ms as plain node; wall median ${tsx.wallMedianMs.toFixed(2)} ms (medians of ${tsx.wall.length} ticks; wall ${Math.min(...tsx.wall).toFixed(1)}..${Math.max(...tsx.wall).toFixed(1)} ms)\n` +
          `  rss ${tsx.rssMiB.toFixed(0)} MiB as gridhost runs (tsx; target <= ${TARGET_RSS_MIB} MiB: ${met(tsx.rssMiB <= TARGET_RSS_MIB)}), ` +
          `${plain.rssMiB.toFixed(0)} MiB as plain node (${met(plain.rssMiB <= TARGET_RSS_MIB)}); heap in use ${plain.heapMiB.toFixed(0)} MiB\n` +
          `  the same processes without pools: ${tsxBase.rssMiB.toFixed(0)} MiB (tsx), ${plainBase.rssMiB.toFixed(0)} MiB (plain node), so the pools and their ticks cost ` +
          `${(tsx.rssMiB - tsxBase.rssMiB).toFixed(0)} MiB (tsx) / ${(plain.rssMiB - plainBase.rssMiB).toFixed(0)} MiB (plain node) of resident memory, ` +
          `${(plain.heapMiB - plainBase.heapMiB).toFixed(0)} MiB of it live heap`,
      );
    }
    return lines.join('\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await benchDecision());
}
