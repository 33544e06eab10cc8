// Decision-core benchmark: one control-loop tick for 1,000 pools of 8 guests, each pool's
// memory holding a 60-sample window, 3 rules (busy/idle cpu thresholds + rps target tracking:
// one rule of each strategy kind and direction). A tick is what the pool loop does per pool
// once it has the sample: fold it into the pool's memory and decide (pool-memory.ts tick()).
// The world and the timing are in decision-world.ts. Prints the figures next to their targets;
// asserts nothing.
//
// Each world runs in a fresh process (one world's garbage never inflates the other's memory),
// twice: as gridhost runs (through tsx) and as plain node on the decision core bundled by
// esbuild into a temporary directory. Both are judged against the targets: tsx's loader (its
// compiler and worker thread) costs any process tens of MiB before the first pool exists, which
// the plain figure leaves out. Beside each, the same process with the modules loaded and no pool,
// so what the pools and their ticks cost is printed apart from what node and tsx cost.
// Memory is measured in each process after its timed ticks (decision-world.ts says how): burst,
// right after the back-to-back timed ticks, and steady, after more ticks at the sampling interval
// as the pool loop runs them; the target is judged on the steady figure, with the whole state
// live. The processes start one after the other once the previous one's timed ticks are done, so
// no two timed phases overlap and their interval ticks (~5 ms every 5 s) run side by side.
//   npx tsx scripts/bench/decision-bench.ts     (or: npm run bench -- decision)
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
// Types only: importing decision-world.ts would run a world in this process.
import type { MemoryFigures, WorldResult } from './decision-world.ts';

/** Targets (issue 13): CPU per tick, median of the runs, and the process's resident memory. */
const TARGET_CPU_MS = 5;
const TARGET_RSS_MIB = 100;
const POOLS = 1000;
const GUESTS = 8;

const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
const WORLD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'decision-world.ts');

/** Starts a world process; `timed` resolves once its timed ticks are done, `result` with its figures. */
function child(args: string[]): { timed: Promise<void>; result: Promise<WorldResult> } {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markTimed: () => void = () => {};
  const timed = new Promise<void>((resolve) => (markTimed = resolve));
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.includes('"phase":"timed"')) markTimed();
  });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const result = new Promise<WorldResult>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => {
      markTimed();
      if (code !== 0) return reject(new Error(`decision bench: ${args.join(' ')} exited ${code}: ${err.trim()}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as WorldResult);
    });
  });
  return { timed, result };
}

const mib = (x: number): string => `${x.toFixed(0)} MiB`;
const heapOf = (m: MemoryFigures): string => `heap ${m.heapUsedMiB.toFixed(0)} MiB used of ${m.heapTotalMiB.toFixed(0)} committed (young generation ${m.newSpaceMiB.toFixed(0)})`;

export async function benchDecision(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gridhost-decision-bench-'));
  try {
    const bundle = path.join(dir, 'decision-world.mjs');
    await build({ entryPoints: [WORLD], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'error' });
    const runs: [string, string[]][] = [
      ['tsx none', ['--import=tsx', '--expose-gc', WORLD, 'none']],
      ['plain none', ['--expose-gc', bundle, 'none']],
      ['tsx plain', ['--import=tsx', '--expose-gc', WORLD, 'plain']],
      ['plain plain', ['--expose-gc', bundle, 'plain']],
      ['tsx schedule', ['--import=tsx', '--expose-gc', WORLD, 'schedule']],
      ['plain schedule', ['--expose-gc', bundle, 'schedule']],
    ];
    const pending = new Map<string, Promise<WorldResult>>();
    for (const [name, args] of runs) {
      const c = child(args);
      pending.set(name, c.result);
      c.result.catch(() => {}); // awaited below
      await c.timed;
    }
    const r = new Map<string, WorldResult>();
    for (const [name, p] of pending) r.set(name, await p);
    const tsxBase = r.get('tsx none')!;
    const plainBase = r.get('plain none')!;
    const lines: string[] = [
      `decision core: memory "steady" is measured after ${tsxBase.cadenceTicks} more ticks at the ${tsxBase.intervalMs / 1000} s sampling interval as the pool loop runs them (no forced GC, every pool's whole window live), ` +
        `"burst" right after the back-to-back timed ticks and a forced full GC; the RSS target is judged on steady, in a process of its own as gridhost runs (tsx) and as plain node (esbuild bundle)`,
    ];
    for (const world of ['plain', 'schedule'] as const) {
      const tsx = r.get(`tsx ${world}`)!;
      const plain = r.get(`plain ${world}`)!;
      const mix = Object.entries(tsx.directions).map(([d, n]) => `${d} ${n}`).join(', ');
      lines.push(
        `decision core: ${POOLS} pools x ${GUESTS} guests, ${tsx.windowTicks} samples in each window, 3 rules${world === 'schedule' ? ', 1 schedule' : ''} [${mix}]\n` +
          `  cpu median ${tsx.cpuMedianMs.toFixed(2)} ms/tick as gridhost runs (tsx; target <= ${TARGET_CPU_MS} ms: ${verdict(tsx.cpuMedianMs <= TARGET_CPU_MS)}), ` +
          `${plain.cpuMedianMs.toFixed(2)} ms as plain node (${verdict(plain.cpuMedianMs <= TARGET_CPU_MS)}); wall median ${tsx.wallMedianMs.toFixed(2)} ms (medians of ${tsx.wall.length} ticks; wall ${Math.min(...tsx.wall).toFixed(1)}..${Math.max(...tsx.wall).toFixed(1)} ms)\n` +
          `  rss steady ${mib(tsx.steady.rssMiB)} as gridhost runs (tsx; target <= ${TARGET_RSS_MIB} MiB: ${verdict(tsx.steady.rssMiB <= TARGET_RSS_MIB)}), ` +
          `${mib(plain.steady.rssMiB)} as plain node (${verdict(plain.steady.rssMiB <= TARGET_RSS_MIB)}); plain node ${heapOf(plain.steady)}\n` +
          `  rss burst ${mib(tsx.burst.rssMiB)} (tsx), ${mib(plain.burst.rssMiB)} (plain node); plain node ${heapOf(plain.burst)}\n` +
          `  the same processes without pools, steady: ${mib(tsxBase.steady.rssMiB)} (tsx), ${mib(plainBase.steady.rssMiB)} (plain node; heap ${plainBase.steady.heapUsedMiB.toFixed(0)} MiB used), so the pools and their ticks cost ` +
          `${mib(tsx.steady.rssMiB - tsxBase.steady.rssMiB)} (tsx) / ${mib(plain.steady.rssMiB - plainBase.steady.rssMiB)} (plain node) of resident memory, ` +
          `${mib(plain.steady.heapUsedMiB - plainBase.steady.heapUsedMiB)} of it heap in use`,
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
