// Decision-core benchmark: time of one control-loop tick's decide() calls for 1,000 pools of
// 8 guests, each with a 60-sample window and 3 rules (busy/idle cpu thresholds + rps target
// tracking: one rule of each strategy kind and direction). Prints figures; asserts nothing.
//   npx tsx scripts/bench/decision-bench.ts
import { pathToFileURL } from 'node:url';
import { DEFAULT_BALANCER, type Policy } from '../../src/domain/policy.ts';
import type { Guest, MetricValues, PoolSample } from '../../src/domain/types.ts';
import { decide } from '../../src/decision/decide.ts';
import type { PoolView } from '../../src/decision/decide-types.ts';
// Deterministic numbers so every run decides on the same data.
import { mulberry32 as rng } from '../../src/simulator/synthetic.ts';

const POOLS = 1000;
const GUESTS = 8;
const WINDOW = 60;
const RUNS = 9;
const INTERVAL = 5_000;
const NOW = Date.UTC(2026, 0, 12, 12, 0, 0);

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
      bootTimeoutMs: 30_000,
      stopTimeoutMs: 10_000,
      drainTimeoutMs: 30_000,
    },
    balancer: { ...DEFAULT_BALANCER, listen: '127.0.0.1:8080' },
    sampling: { intervalMs: INTERVAL, windowMs: WINDOW * INTERVAL },
    warmupMs: 10_000,
    scaleOut: { cooldownMs: 30_000 },
    scaleIn: { cooldownMs: 60_000, stabilizationMs: 120_000 },
    onMissing: 'hold',
    rules: [
      { name: 'busy', strategy: 'threshold', metric: 'cpu', aggregate: 'mean', above: 70, for: 3, step: { kind: 'count', value: 1 } },
      { name: 'idle', strategy: 'threshold', metric: 'cpu', aggregate: 'mean', below: 15, for: 6, step: { kind: 'count', value: -1 } },
      { name: 'rps', strategy: 'target-tracking', metric: 'rps', aggregate: 'mean', target: 40, tolerance: 0.1, for: 2 },
    ],
    schedules: withSchedule ? [{ name: 'campaign', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', durationMs: 9 * 3600_000, min: 4 }] : [],
    breaker: { failures: 3, openMs: 300_000 },
  };
}

function makeWorld(withSchedule: boolean): { policy: Policy; view: PoolView }[] {
  const rand = rng(42);
  const world: { policy: Policy; view: PoolView }[] = [];
  for (let p = 0; p < POOLS; p++) {
    const pool = `pool${p}`;
    const guests: Guest[] = [];
    for (let g = 0; g < GUESTS; g++) {
      guests.push({ id: `${pool}-${g}`, pool, state: 'healthy', driver: 'local', host: 'localhost', createdAt: NOW - 7200_000, healthyAt: NOW - 3600_000, updatedAt: NOW - 3600_000, meta: {} });
    }
    const base = rand() * 100;
    const samples: PoolSample[] = [];
    for (let t = 0; t < WINDOW; t++) {
      const at = NOW - (WINDOW - 1 - t) * INTERVAL;
      const values: Record<string, MetricValues> = {};
      for (const g of guests) values[g.id] = { cpu: Math.max(0, base + (rand() - 0.5) * 20), rps: base * 0.6 + rand() * 5 };
      samples.push({ at, guests: values });
    }
    const recommendations = [{ at: NOW - 60_000, desired: GUESTS }, { at: NOW - 30_000, desired: GUESTS - 1 }];
    world.push({ policy: makePolicy(pool, withSchedule), view: { guests, samples, recommendations, lastScaleOutAt: NOW - 600_000 } });
  }
  return world;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Wall-clock and CPU (user+system) milliseconds per tick; on a shared machine CPU time is the steadier figure. */
function timeTicks(world: { policy: Policy; view: PoolView }[]): { runs: number[]; cpu: number[]; directions: Record<string, number> } {
  const directions: Record<string, number> = {};
  // warm-up runs (JIT), not counted
  for (let i = 0; i < 2; i++) for (const w of world) decide(w.policy, w.view, NOW);
  const runs: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const w of world) {
      const d = decide(w.policy, w.view, NOW).decision.direction;
      if (r === 0) directions[d] = (directions[d] ?? 0) + 1;
    }
    runs.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { runs, cpu, directions };
}

export async function benchDecision(): Promise<string> {
  const lines: string[] = [];
  for (const withSchedule of [false, true]) {
    const world = makeWorld(withSchedule);
    const { runs, cpu, directions } = timeTicks(world);
    const rss = process.memoryUsage().rss / (1024 * 1024);
    const mix = Object.entries(directions).map(([d, n]) => `${d} ${n}`).join(', ');
    lines.push(
      `decision core: ${POOLS} pools x ${GUESTS} guests, ${WINDOW} samples, 3 rules${withSchedule ? ', 1 schedule' : ''}: ` +
        `median ${median(runs).toFixed(1)} ms/tick (runs: ${runs.map((x) => x.toFixed(1)).join(', ')}), cpu median ${median(cpu).toFixed(1)} ms/tick, rss ${rss.toFixed(0)} MiB [${mix}]`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await benchDecision());
}
