// `gridhost simulate --replay POOL`: rerun what gridhost recorded for a pool through a (changed)
// policy. The store is the one `gridhost run` uses (gridhost.yaml / GRIDHOST_* / --config); the
// load is the pool's recorded total of one metric per tick, replayed from the first recorded
// tick's time (so schedules see the real clock) and from the guests serving then, with guests
// that boot and drain as long as the recorded ones did (unless --boot etc. say). Prints the
// recorded run next to the simulated one: scale actions, guest-hours and the BUNGEE figures,
// both scored against the same demand curve.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load-config.ts';
import type { Policy } from '../domain/policy.ts';
import { GridhostError } from '../errors/errors.ts';
import { tryParseDuration } from '../policy/duration.ts';
import { openStore } from '../store/open-store.ts';
import { elasticity, type ElasticityMetrics } from './bungee.ts';
import { renderSvg } from './plot.ts';
import { estimateCapacity, loadRecording, parseWhen, recordedTrace, replayTimes } from './replay.ts';
import { fmt, pct } from './report.ts';
import type { Args, SimulateIo } from './simulate-command.ts';
import { simulate } from './simulate.ts';

export interface ReplayContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  now: () => number;
}

/** Capacity used when it is neither given nor estimable from the recording. */
const FALLBACK_CAPACITY = 60;

function when(flag: string, text: string | undefined, now: number): number | undefined {
  if (text === undefined) return undefined;
  const at = parseWhen(text, now, (s) => {
    const r = tryParseDuration(s);
    return r.ok ? r.ms : undefined;
  });
  if (at === undefined) {
    throw new GridhostError('GH_BAD_REQUEST', `${flag} "${text}" is neither an ISO-8601 date (2026-01-05T09:00:00Z) nor a duration ago (2h, 1d12h, 30m-ago)`, { found: text });
  }
  return at;
}

export async function runReplay(args: Args, pool: string, policy: Policy, io: SimulateIo, ctx: ReplayContext): Promise<number> {
  const now = ctx.now();
  const since = when('--since', args.since, now);
  const until = when('--until', args.until, now);
  if (since !== undefined && until !== undefined && since > until) {
    throw new GridhostError('GH_BAD_REQUEST', `--since ${new Date(since).toISOString()} is after --until ${new Date(until).toISOString()}`);
  }

  const config = loadConfig({ ...(args.config !== undefined ? { file: args.config } : {}), env: ctx.env, cwd: ctx.cwd });
  const where = config.store.kind === 'sqlite' ? `sqlite ${config.store.path}` : 'mongodb';
  // Opening a missing SQLite file would create an empty store: say where gridhost looked instead.
  if (config.store.kind === 'sqlite' && !existsSync(config.store.path)) {
    throw new GridhostError(
      'GH_NOT_FOUND',
      `no store at ${config.store.path} (from ${config.source}); point --config, store.path in gridhost.yaml or GRIDHOST_SQLITE_PATH at the store gridhost run recorded into`,
      { path: config.store.path },
    );
  }
  const store = await openStore(config.store);
  let recording;
  try {
    recording = await loadRecording(store, pool, since, until);
  } finally {
    await store.close();
  }

  const rt = recordedTrace(recording.samples, args.metric, policy.sampling.intervalMs / 1000);
  const capacitySet = args.given.has('--capacity');
  const estimated = capacitySet ? undefined : estimateCapacity(recording.samples, args.metric);
  const capacity = capacitySet ? args.capacity : estimated ?? FALLBACK_CAPACITY;
  const capacityFrom = capacitySet ? '--capacity' : estimated !== undefined ? `estimated from recorded cpu and ${args.metric}` : `default; no recorded cpu to estimate it from`;
  const times = replayTimes(args, recording.timings);

  // A recorded tick at T measured the interval before T: the replay's step i is the one ending
  // at the i-th tick, so it starts a step early, and it decides at the recorded tick times (a
  // loaded machine's timers fire late and the loop keeps its cadence from there, so real ticks
  // drift from any fixed grid).
  const simStart = rt.startAt - rt.stepSeconds * 1000;
  const r = simulate({
    policy,
    trace: rt.values,
    stepSeconds: rt.stepSeconds,
    capacityPerGuest: capacity,
    bootSeconds: times.bootSeconds,
    healthDelaySeconds: times.healthDelaySeconds,
    drainSeconds: times.drainSeconds,
    seed: args.seed,
    // The recorded load was measured, noise and all: none is added unless asked for.
    noise: args.noise ?? 0,
    startAt: simStart,
    tickTimes: rt.tickAt,
    initialGuests: Math.max(1, rt.guests[0]!),
  });
  const acts = recording.actions;
  // The recorded run scored against the same demand; only guests that reported are known, so
  // its supply is also what it paid for (booting guests are not sampled).
  const recorded: ElasticityMetrics = elasticity({ demand: r.demand, supply: rt.guests, load: rt.values, stepSeconds: rt.stepSeconds, actions: acts.scaleOut + acts.scaleIn });
  let servingSeconds = 0;
  for (let i = 0; i < r.supply.length; i++) servingSeconds += r.supply[i]! * rt.stepSeconds;
  const simOut = r.actions.filter((a) => a.action === 'scale-out').length;
  const simIn = r.actions.filter((a) => a.action === 'scale-in').length;

  if (args.plot) {
    const svg = await renderSvg({
      load: r.load,
      demand: r.demand,
      supply: r.supply,
      recordedSupply: rt.guests,
      stepSeconds: rt.stepSeconds,
      // Steps are labelled with their recorded tick's time.
      startAt: rt.startAt,
      title: `${pool}: recorded run and a replay through ${path.basename(policy.file)}`,
    });
    await writeFile(path.resolve(ctx.cwd, args.plot), svg);
  }

  const iso = (ms: number): string => new Date(ms).toISOString();
  const secs = (x: number): string => String(Number(x.toFixed(2)));
  if (args.json) {
    io.out(
      JSON.stringify(
        {
          policy: { file: policy.file, pool: policy.pool, min: policy.min, max: policy.max },
          replay: { pool, store: where, from: iso(rt.startAt), to: iso(rt.endAt), ticks: rt.ticks, steps: rt.values.length, stepSeconds: rt.stepSeconds, filledSteps: rt.filled, metric: args.metric },
          model: {
            capacityPerGuest: capacity,
            capacityFrom,
            bootSeconds: times.bootSeconds,
            healthDelaySeconds: times.healthDelaySeconds,
            bootFrom: times.bootFrom,
            drainSeconds: times.drainSeconds,
            drainFrom: times.drainFrom,
            seed: args.seed,
            noise: args.noise ?? 0,
          },
          recorded: {
            scaleOut: acts.scaleOut,
            scaleIn: acts.scaleIn,
            outcomes: acts.outcomes,
            eventsTruncated: acts.truncated,
            timings: recording.timings,
            servingGuestHours: recorded.guestHours,
            metrics: recorded,
            actions: acts.events.map((e) => ({ at: iso(e.at), direction: e.direction, from: e.from, to: e.to, outcome: e.outcome, reason: e.reason })),
          },
          simulated: {
            scaleOut: simOut,
            scaleIn: simIn,
            servingGuestHours: servingSeconds / 3600,
            metrics: r.metrics,
            actions: r.actions.map((a) => ({ at: iso(a.at), direction: a.action, from: a.from, to: a.to, reason: a.reason })),
          },
        },
        null,
        2,
      ),
    );
    return 0;
  }

  const days = (rt.values.length * rt.stepSeconds) / 86_400;
  const outcomes = Object.entries(acts.outcomes).map(([k, v]) => `${v} ${k}`).join(', ');
  const row = (name: string, rec: string, sim: string): string => `${name.padEnd(28)}${rec.padStart(12)}${sim.padStart(12)}`;
  const m = r.metrics;
  const lines = [
    `policy       ${policy.file} (pool ${policy.pool}, min ${policy.min}, max ${policy.max}, every ${policy.sampling.intervalMs / 1000} s)`,
    `replay       pool ${pool} from ${where}: ${rt.ticks} ticks ${iso(rt.startAt)} .. ${iso(rt.endAt)} (${fmt(days * 24, 2)} h), every ${rt.stepSeconds} s` +
      (rt.filled > 0 ? `; ${rt.filled} steps without a usable tick repeat the previous one` : ''),
    `load         sum over guests of recorded ${args.metric}`,
    `model        ${fmt(capacity, 1)} ${args.metric} per guest at 100% cpu (${capacityFrom}), noise ${args.noise ?? 0}, seed ${args.seed}`,
    `timings      boot ${secs(times.bootSeconds)} s + health delay ${secs(times.healthDelaySeconds)} s (${times.bootFrom})`,
    `             drain ${secs(times.drainSeconds)} s (${times.drainFrom})`,
    '',
    row('', 'recorded', 'simulated'),
    row('scale actions', String(acts.scaleOut + acts.scaleIn), String(r.actions.length)),
    row('  scale-out / scale-in', `${acts.scaleOut} / ${acts.scaleIn}`, `${simOut} / ${simIn}`),
    row('serving guest-hours', fmt(recorded.guestHours, 2), fmt(servingSeconds / 3600, 2)),
    row('billed guest-hours', '-', fmt(m.guestHours, 2)),
    row('accuracy_U (guests)', fmt(recorded.accuracyU), fmt(m.accuracyU)),
    row('accuracy_O (guests)', fmt(recorded.accuracyO), fmt(m.accuracyO)),
    row('timeshare_U', pct(recorded.timeshareU), pct(m.timeshareU)),
    row('timeshare_O', pct(recorded.timeshareO), pct(m.timeshareO)),
    row('jitter (/min)', fmt(recorded.jitter), fmt(m.jitter)),
    row('under-provisioned requests', pct(recorded.underProvisionedRequests), pct(m.underProvisionedRequests)),
    '',
    `recorded: serving guests are those that reported a sample (booting guests are not sampled)${outcomes ? `; action outcomes: ${outcomes}` : ''}` +
      (acts.truncated ? '; older events of the range are past the store\'s 1000-event listing and not counted' : ''),
    `demand: clamp(ceil(load / ${fmt(capacity, 1)}), ${policy.min}, ${policy.max}) for both columns`,
  ];
  if (args.plot) lines.push(`chart        ${args.plot}`);
  io.out(lines.join('\n'));
  return 0;
}
