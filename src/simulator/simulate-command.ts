// `gridhost simulate`: replay a load trace through a policy file with the simulated clock and
// print guest-hours and the BUNGEE elasticity metrics (or JSON), optionally an SVG chart.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PolicyError, formatIssue, isGridhostError } from '../errors/errors.ts';
import { loadPolicyFile } from '../policy/load-policy.ts';
import { renderSvg } from './plot.ts';
import { runReplay } from './replay-command.ts';
import { fmt, metricLines } from './report.ts';
import { simulate } from './simulate.ts';
import { aggregate, peak, readTrace, scaleToPeak, type Trace } from './trace.ts';

export interface SimulateIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const SIMULATE_USAGE = `usage: gridhost simulate --policy FILE --trace FILE [options]
       gridhost simulate --policy FILE --replay POOL [--since WHEN] [--until WHEN] [options]

  --policy FILE        policy YAML to replay (validated as by gridhost validate)
  --trace FILE         requests per second: one number per line or space-separated,
                       CSV time,rps, or a .tbz2/.tar.bz2 archive of such a file
  --replay POOL        replay the samples gridhost recorded for POOL in its store (the store
                       of gridhost.yaml / GRIDHOST_* / --config) and compare the recorded run
                       with what the policy would have done
  --since WHEN         replay from WHEN: an ISO-8601 date or a duration ago (2h, 1d, 30m-ago);
  --until WHEN         default: every recorded sample
  --metric NAME        replay load = sum over guests of this recorded metric (default rps)
  --config FILE        gridhost.yaml to read the store from (default as gridhost run)
  --capacity RPS       requests per second one guest serves at 100% CPU (default 60; with
                       --replay: estimated from the recorded cpu and metric, else 60)
  --boot S             seconds a new guest boots (default 30)
  --health-delay S     seconds from boot to passing the health check (default 5); a replay
                       given neither boots for the recorded median time from a guest's
                       creation to healthy, with health delay 0
  --warm-boot S        seconds from taking a warm guest (policy warm_pool) to it serving
                       (default 1: an unpause, a health check, the balancer's check)
  --max-vcpus N        vCPUs a guest may grow to (policy guest.vertical; default 1: no room;
                       a guest serves --capacity per vCPU)
  --resize S           seconds from a resize to the guest's new capacity (default 1)
  --drain S            seconds a retired guest drains before it is gone (default 10; a
                       replay: the recorded median time from a scale-in to its guest gone)
  --step S             aggregate the trace (mean) to S-second steps (default: the policy's
                       sampling interval when it is a multiple of the trace step; 0 = keep)
  --peak-guests N      scale the trace so its peak needs N guests (default: replay as is)
  --seed N             seed of the per-guest measurement noise (default 1)
  --noise F            relative per-guest measurement noise (default 0.05 = +-5%; with
                       --replay 0: the recorded load is measured already)
  --plot OUT.svg       write a chart of load, demand and supply (with --replay, also the
                       recorded supply) and the share of time under-provisioned
  --json               print the figures as JSON
  --speed              also print how much faster than real time the replay ran`;

export interface Args {
  policy: string;
  /** Exactly one of trace and replay is set. */
  trace?: string;
  replay?: string;
  since?: string;
  until?: string;
  metric: string;
  config?: string;
  capacity: number;
  /** The options given on the command line ("--capacity", "--boot", ...): a replay takes what
   *  was not given from the recording. */
  given: ReadonlySet<string>;
  boot: number;
  healthDelay: number;
  /** policy warm_pool: seconds from taking a warm guest to it serving. */
  warmBoot: number;
  /** policy guest.vertical: a guest's vCPU ceiling, and seconds a resize takes to show. */
  maxVcpus: number;
  resize: number;
  drain: number;
  step?: number;
  peakGuests?: number;
  seed: number;
  /** Undefined: 0.05 for a trace, 0 for a replay. */
  noise?: number;
  plot?: string;
  json: boolean;
  speed: boolean;
}

class UsageError extends Error {}

/** A trace's per-guest measurement noise unless --noise says otherwise. */
const TRACE_NOISE = 0.05;

const STRINGS = ['--policy', '--trace', '--plot', '--replay', '--since', '--until', '--metric', '--config'] as const;

const NUMERIC: Record<string, { key: keyof Args; min: number; integer?: boolean; positive?: boolean }> = {
  '--capacity': { key: 'capacity', min: 0, positive: true },
  '--boot': { key: 'boot', min: 0 },
  '--health-delay': { key: 'healthDelay', min: 0 },
  '--drain': { key: 'drain', min: 0 },
  '--warm-boot': { key: 'warmBoot', min: 0 },
  '--max-vcpus': { key: 'maxVcpus', min: 1, integer: true },
  '--resize': { key: 'resize', min: 0 },
  '--step': { key: 'step', min: 0 },
  '--peak-guests': { key: 'peakGuests', min: 1, integer: true },
  '--seed': { key: 'seed', min: 0, integer: true },
  '--noise': { key: 'noise', min: 0 },
};

export function parseSimulateArgs(argv: readonly string[]): Args {
  const given = new Set<string>();
  const a: Partial<Args> & Pick<Args, 'capacity' | 'given' | 'metric' | 'boot' | 'healthDelay' | 'warmBoot' | 'maxVcpus' | 'resize' | 'drain' | 'seed' | 'json' | 'speed'> = {
    capacity: 60,
    given,
    metric: 'rps',
    boot: 30,
    healthDelay: 5,
    warmBoot: 1,
    maxVcpus: 1,
    resize: 1,
    drain: 10,
    seed: 1,
    json: false,
    speed: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    given.add(flag);
    if (flag === '--json' || flag === '--speed') {
      a[flag === '--json' ? 'json' : 'speed'] = true;
    } else if ((STRINGS as readonly string[]).includes(flag)) {
      const v = value();
      if (v.trim() === '') throw new UsageError(`${flag} needs a non-empty value`);
      (a as Record<string, unknown>)[flag.slice(2)] = v;
    } else if (NUMERIC[flag]) {
      const spec = NUMERIC[flag]!;
      const text = value();
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n) || n < spec.min || (spec.positive && n <= 0) || (spec.integer && !Number.isInteger(n))) {
        const want = spec.integer ? `a whole number >= ${spec.min}` : spec.positive ? 'a number > 0' : `a number >= ${spec.min}`;
        throw new UsageError(`${flag} must be ${want} (found "${text}")`);
      }
      (a as Record<string, unknown>)[spec.key] = n;
    } else {
      throw new UsageError(`unknown option "${raw}"`);
    }
  }
  if (a.policy === undefined) throw new UsageError('--policy FILE is required');
  if (a.trace === undefined && a.replay === undefined) throw new UsageError('--trace FILE is required (or --replay POOL)');
  if (a.trace !== undefined && a.replay !== undefined) throw new UsageError('give either --trace FILE or --replay POOL, not both');
  if (a.replay === undefined) {
    for (const f of ['since', 'until', 'config'] as const) if (a[f] !== undefined) throw new UsageError(`--${f} only applies to --replay POOL`);
    if (a.metric !== 'rps') throw new UsageError('--metric only applies to --replay POOL');
  } else {
    if (a.peakGuests !== undefined) throw new UsageError('--peak-guests rescales a trace file; a replay keeps the recorded load');
    if (a.step !== undefined) throw new UsageError('--step does not apply to --replay: the step is the recorded sampling interval');
  }
  return a as Args;
}

export interface SimulateContext {
  /** Environment and working directory gridhost.yaml and the store are found from (default: the process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Wall clock for --since/--until durations (default Date.now). */
  now?: () => number;
}

export async function runSimulate(argv: string[], io: SimulateIo, ctx: SimulateContext = {}): Promise<number> {
  let args: Args;
  try {
    args = parseSimulateArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`gridhost simulate: ${e.message}\n\n${SIMULATE_USAGE}`);
      return 2;
    }
    throw e;
  }
  try {
    const cwd = ctx.cwd ?? process.cwd();
    const policy = loadPolicyFile(path.resolve(cwd, args.policy), { templatesDir: path.resolve(cwd, 'templates'), checkFiles: false });
    if (args.replay !== undefined) return await runReplay(args, args.replay, policy, io, { env: ctx.env ?? process.env, cwd, now: ctx.now ?? Date.now });
    const traceFile = args.trace!;
    let trace: Trace = await readTrace(ctx.cwd === undefined ? traceFile : path.resolve(cwd, traceFile));
    const interval = policy.sampling.intervalMs / 1000;
    const step = args.step ?? (Number.isInteger(interval / trace.stepSeconds) ? interval : 0);
    if (step > 0 && step !== trace.stepSeconds) trace = aggregate(trace, step, 'mean');
    // A trace that says when it began (CSV with dates) runs on its own clock: schedules and the chart's dates follow it.
    if (args.peakGuests !== undefined) trace = scaleToPeak(trace, args.capacity, args.peakGuests);

    const wall0 = performance.now();
    const r = simulate({
      policy,
      trace: trace.values,
      stepSeconds: trace.stepSeconds,
      capacityPerGuest: args.capacity,
      bootSeconds: args.boot,
      healthDelaySeconds: args.healthDelay,
      warmBootSeconds: args.warmBoot,
      vertical: { maxVcpus: args.maxVcpus, resizeSeconds: args.resize },
      drainSeconds: args.drain,
      seed: args.seed,
      noise: args.noise ?? TRACE_NOISE,
      ...(trace.startAt !== undefined ? { startAt: trace.startAt } : {}),
    });
    const wallSeconds = (performance.now() - wall0) / 1000;
    const m = r.metrics;
    const simulatedSeconds = m.durationSeconds;
    let total = 0;
    for (let i = 0; i < trace.values.length; i++) total += trace.values[i]!;
    const summary = {
      policy: { file: policy.file, pool: policy.pool, min: policy.min, max: policy.max },
      trace: {
        file: traceFile,
        steps: trace.values.length,
        stepSeconds: trace.stepSeconds,
        ...(trace.startAt !== undefined ? { startAt: new Date(trace.startAt).toISOString() } : {}),
        meanRps: total / Math.max(1, trace.values.length),
        peakRps: peak(trace.values),
      },
      model: { capacityPerGuest: args.capacity, bootSeconds: args.boot, healthDelaySeconds: args.healthDelay, drainSeconds: args.drain, seed: args.seed, noise: args.noise ?? TRACE_NOISE },
      metrics: m,
      // policy warm_pool: how many scale-out guests were taken warm, and the warm model.
      ...(policy.warmPool ? { warmPool: { size: policy.warmPool.size, warmBootSeconds: args.warmBoot, scaleOutGuests: r.scaleOutGuests } } : {}),
      // policy guest.vertical: the resizes made and the vertical model.
      ...(policy.guest.vertical ? { vertical: { maxVcpus: args.maxVcpus, resizeSeconds: args.resize, resizes: r.actions.filter((a) => a.action === 'resize').length } } : {}),
      ...(args.speed ? { speed: { wallSeconds, simulatedSeconds, factor: simulatedSeconds / Math.max(wallSeconds, 1e-6) } } : {}),
    };

    if (args.plot) {
      const svg = await renderSvg({
        load: r.load,
        demand: r.demand,
        supply: r.supply,
        stepSeconds: r.stepSeconds,
        ...(trace.startAt !== undefined ? { startAt: trace.startAt } : {}),
        title: `${policy.pool}: ${path.basename(policy.file)} on ${path.basename(traceFile)}`,
      });
      await writeFile(path.resolve(cwd, args.plot), svg);
    }

    if (args.json) {
      io.out(JSON.stringify(summary, null, 2));
      return 0;
    }
    const days = simulatedSeconds / 86_400;
    const lines = [
      `policy       ${policy.file} (pool ${policy.pool}, min ${policy.min}, max ${policy.max}, every ${interval} s)`,
      `trace        ${traceFile}: ${trace.values.length} steps of ${trace.stepSeconds} s (${fmt(days, 2)} days), mean ${fmt(summary.trace.meanRps, 1)} rps, peak ${fmt(summary.trace.peakRps, 1)} rps`,
      `model        ${args.capacity} rps per guest, boot ${args.boot} s, health delay ${args.healthDelay} s, drain ${args.drain} s, noise ${args.noise ?? TRACE_NOISE}, seed ${args.seed}`,
      '',
      ...metricLines(m),
    ];
    if (policy.warmPool) lines.push(`warm pool                   ${policy.warmPool.size} guest(s), serving ${args.warmBoot} s after being taken: ${r.scaleOutGuests.warm} scale-out guest(s) warm, ${r.scaleOutGuests.cold} cold`);
    if (policy.guest.vertical) lines.push(`vertical first              up to ${args.maxVcpus} vCPU(s) a guest, ${args.resize} s a resize: ${summary.vertical!.resizes} resize(s)`);
    if (args.speed) lines.push(`speed                       ${fmt(days, 2)} days in ${fmt(wallSeconds, 2)} s (${Math.round(summary.speed!.factor)}x real time)`);
    if (args.plot) lines.push(`chart                       ${args.plot}`);
    io.out(lines.join('\n'));
    return 0;
  } catch (e) {
    if (e instanceof PolicyError) {
      for (const i of e.issues) io.err(formatIssue(i));
      return 1;
    }
    if (isGridhostError(e)) {
      io.err(`gridhost simulate: ${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
