// The decision-core benchmark's world and its timed ticks (scripts/bench/decision-bench.ts runs
// this file in fresh processes and prints the figures). Run alone it prints one world's figures
// as JSON: node --import=tsx --expose-gc scripts/bench/decision-world.ts plain|schedule|none
// (none: the same process without pools, to tell what the pools cost from what the process does).
// It prints {"phase":"timed"} once its timed ticks are done (decision-bench.ts starts the next
// process then, so no two timed phases overlap), and its figures as the last line.
//
// Memory is measured twice, in the same process:
//  - burst: right after the timed ticks, which run back to back (a whole window's worth in well
//    under a second) with a forced full collection before measuring. V8 sizes its heap for that
//    rate of allocation: the young generation grows to its 32 MiB maximum and the old
//    generation keeps the pages its garbage took;
//  - steady: then CADENCE_TICKS more ticks, each one sampling interval (5 s) after the last, as
//    the pool loop runs them, with no forced collection; measured after the last one. Between
//    ticks the process is idle and V8's memory reducer gives back what the burst took. The
//    pools and their whole windows are live throughout: this is what a gridhost process with
//    this many pools holds while it runs.
import v8 from 'node:v8';
import { DEFAULT_AUTO_HEAL, DEFAULT_BALANCER, type Policy } from '../../src/domain/policy.ts';
import type { Guest, MetricValues, PoolSample } from '../../src/domain/types.ts';
import { windowSize } from '../../src/decision/aggregate.ts';
import { emptyMemory, remember, tick, type PoolMemory } from '../../src/decision/pool-memory.ts';
// Deterministic numbers so every run decides on the same data.
import { mulberry32 as rng } from '../../src/simulator/synthetic.ts';

export const POOLS = 1000;
export const GUESTS = 8;
const WINDOW = 60;
/** Timed ticks: a whole window's worth, so every pool's window has been renewed by them (and
 *  its columns copied out at least once, see aggregate.ts) before memory is measured. */
const RUNS = WINDOW;
const INTERVAL = 5_000;
const START = Date.UTC(2026, 0, 12, 12, 0, 0);

function makePolicy(pool: string, withSchedule: boolean): Policy {
  return {
    file: `/bench/${pool}.yaml`,
    pool,
    min: 2,
    max: 16,
    guest: {
      driver: 'local',
      template: '/bench/t.yaml',
      image: '/bench/image',
      clone: 'auto',
      healthPath: '/healthz',
      metricsPath: '/metrics',
      metrics: ['rps', 'inflight'],
      bootTimeoutMs: 30_000,
      stopTimeoutMs: 10_000,
      drainTimeoutMs: 30_000,
    },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:8080' },
    // A window of WINDOW ticks: the memory keeps ticks younger than it.
    sampling: { intervalMs: INTERVAL, windowMs: WINDOW * INTERVAL },
    warmupMs: 10_000,
    scaleOut: { cooldownMs: 30_000, whileBooting: 'hold' },
    scaleIn: { cooldownMs: 60_000, stabilizationMs: 120_000 },
    onMissing: 'hold',
    unknownGuests: 'retire',
    rules: [
      { name: 'busy', strategy: 'threshold', metric: 'cpu', aggregate: 'mean', above: 70, for: 3, step: { kind: 'count', value: 1 } },
      { name: 'idle', strategy: 'threshold', metric: 'cpu', aggregate: 'mean', below: 15, for: 6, step: { kind: 'count', value: -1 } },
      { name: 'rps', strategy: 'target-tracking', metric: 'rps', aggregate: 'mean', target: 40, tolerance: 0.1, for: 2 },
    ],
    schedules: withSchedule ? [{ name: 'campaign', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', durationMs: 9 * 3600_000, min: 4 }] : [],
    breaker: { failures: 3, openMs: 300_000 },
    autoHeal: { ...DEFAULT_AUTO_HEAL },
  };
}

interface Pool {
  policy: Policy;
  guests: Guest[];
  memory: PoolMemory;
  /** Load level of the pool: some pools are busy, some idle, most in between. */
  base: number;
}

function sampleOf(p: Pool, at: number, rand: () => number): PoolSample {
  const values: Record<string, MetricValues> = {};
  for (const g of p.guests) values[g.id] = { cpu: Math.max(0, p.base + (rand() - 0.5) * 20), rps: p.base * 0.6 + rand() * 5 };
  return { at, guests: values };
}

function makeWorld(withSchedule: boolean, rand: () => number): Pool[] {
  const world: Pool[] = [];
  for (let i = 0; i < POOLS; i++) {
    const pool = `pool${i}`;
    const guests: Guest[] = [];
    for (let g = 0; g < GUESTS; g++) {
      guests.push({ id: `${pool}-${g}`, pool, state: 'healthy', driver: 'local', host: 'localhost', createdAt: START - 7200_000, healthyAt: START - 3600_000, updatedAt: START - 3600_000, meta: {} });
    }
    const p: Pool = { policy: makePolicy(pool, withSchedule), guests, memory: emptyMemory(), base: rand() * 100 };
    // A full window, and the recommendations of the last two minutes.
    for (let t = 0; t < WINDOW; t++) {
      const at = START - (WINDOW - 1 - t) * INTERVAL;
      p.memory = remember(p.policy, p.memory, { kind: 'sampled', sample: sampleOf(p, at, rand), guests }, at);
      p.memory = remember(p.policy, p.memory, { kind: 'decided', recommendation: { at, desired: GUESTS - (t % 2) } }, at);
    }
    p.memory = { ...p.memory, lastScaleOutAt: START - 600_000 };
    world.push(p);
    // Building a window makes garbage a running pool makes over minutes: collect it as it goes,
    // so the figures are those of a process that holds the pools, not of its set-up.
    if (i % 50 === 49) (globalThis as { gc?: () => void }).gc?.();
  }
  return world;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface TickFigures {
  wall: number[];
  cpu: number[];
  directions: Record<string, number>;
  windowTicks: number;
}

const gcMinor = (globalThis as { gc?: (o?: { type: 'minor' | 'major' }) => void }).gc === undefined ? undefined : () => (globalThis as { gc: (o: { type: 'minor' }) => void }).gc({ type: 'minor' });

/** Wall-clock and CPU (user+system) milliseconds per tick; on a shared machine CPU time is the steadier figure. */
function timeTicks(world: Pool[], rand: () => number): TickFigures {
  const directions: Record<string, number> = {};
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS + 3; r++) {
    const now = START + (r + 1) * INTERVAL;
    // The samples are the metrics sources' output: made before the clock starts.
    const samples = world.map((p) => sampleOf(p, now, rand));
    // Making them filled the young generation: empty it, so the GC the clock sees is the ticks'.
    gcMinor?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < world.length; i++) {
      const p = world[i]!;
      const next = tick(p.policy, p.memory, p.guests, samples[i]!, now);
      p.memory = next.memory;
      if (r === 3) directions[next.result.decision.action] = (directions[next.result.decision.action] ?? 0) + 1;
    }
    const w = performance.now() - t0;
    const c = process.cpuUsage(c0);
    // The first 3 runs warm the JIT up and are not counted.
    if (r >= 3) {
      wall.push(w);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  return { wall, cpu, directions, windowTicks: windowSize(world[0]!.memory.ticks) };
}

/** Ticks at the sampling interval after the timed ones, before the steady figure (the memory
 *  reducer first looks 8 s after a full collection, then every 0.5 s while the process idles). */
const CADENCE_TICKS = 4;

/** A process's memory at one point, MiB. */
export interface MemoryFigures {
  rssMiB: number;
  /** V8's heap: what live (and not yet collected) objects use, and what it has committed. */
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** The young generation's committed size. */
  newSpaceMiB: number;
}

function memoryNow(): MemoryFigures {
  const mem = process.memoryUsage();
  const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  const mib = (x: number) => x / (1024 * 1024);
  return { rssMiB: mib(mem.rss), heapUsedMiB: mib(mem.heapUsed), heapTotalMiB: mib(mem.heapTotal), newSpaceMiB: mib(newSpace) };
}

export interface WorldResult {
  world: World;
  cpuMedianMs: number;
  wallMedianMs: number;
  wall: number[];
  /** Right after the back-to-back timed ticks and a forced full collection. */
  burst: MemoryFigures;
  /** After `cadenceTicks` more ticks at the sampling interval, no forced collection. */
  steady: MemoryFigures;
  cadenceTicks: number;
  intervalMs: number;
  /** Resident memory once the world is built (before the timed ticks). */
  rssBuiltMiB: number;
  windowTicks: number;
  directions: Record<string, number>;
}

export type World = 'plain' | 'schedule' | 'none';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One world in this process: build it, collect its garbage, time the ticks, then tick at the
 *  sampling interval. `timed` is called once the timed ticks are done. */
export async function runWorld(world: World, timed: () => void): Promise<WorldResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (world === 'none') {
    // The modules are loaded (imported above), no pool exists: the process's own memory, at the
    // same two points.
    gc?.();
    const burst = memoryNow();
    timed();
    await sleep(CADENCE_TICKS * INTERVAL);
    return { world, cpuMedianMs: 0, wallMedianMs: 0, wall: [], burst, steady: memoryNow(), cadenceTicks: CADENCE_TICKS, intervalMs: INTERVAL, rssBuiltMiB: burst.rssMiB, windowTicks: 0, directions: {} };
  }
  const rand = rng(42);
  const pools = makeWorld(world === 'schedule', rand);
  gc?.(); // the world's construction garbage is not the ticks' cost
  const rssBuiltMiB = process.memoryUsage().rss / (1024 * 1024);
  const f = timeTicks(pools, rand);
  gc?.();
  const burst = memoryNow();
  timed();
  let now = START + (RUNS + 3) * INTERVAL;
  for (let k = 0; k < CADENCE_TICKS; k++) {
    await sleep(INTERVAL);
    now += INTERVAL;
    for (const p of pools) p.memory = tick(p.policy, p.memory, p.guests, sampleOf(p, now, rand), now).memory;
  }
  const steady = memoryNow();
  if (windowSize(pools[0]!.memory.ticks) !== f.windowTicks) throw new Error('decision bench: the window changed size while ticking at the interval');
  return { world, cpuMedianMs: median(f.cpu), wallMedianMs: median(f.wall), wall: f.wall, burst, steady, cadenceTicks: CADENCE_TICKS, intervalMs: INTERVAL, rssBuiltMiB, windowTicks: f.windowTicks, directions: f.directions };
}

const asked = process.argv[2];
const result = await runWorld(asked === 'schedule' || asked === 'none' ? asked : 'plain', () => console.log(JSON.stringify({ phase: 'timed' })));
console.log(JSON.stringify(result));
