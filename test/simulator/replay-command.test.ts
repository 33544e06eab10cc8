// `gridhost simulate --replay` against a real SQLite store in a temp dir, found through the
// same configuration path as `gridhost run` (GRIDHOST_SQLITE_PATH / gridhost.yaml).
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Guest, PoolSample } from '../../src/domain/types.ts';
import { runSimulate } from '../../src/simulator/simulate-command.ts';
import { openSqliteStore } from '../../src/store/sqlite-driver.ts';
import { layout, pathPoints, textsOf, boxOf } from './svg-geometry.ts';

const WEB = join(process.cwd(), 'policies', 'web.yaml');
// Tuesday 03:00 UTC: outside web.yaml's example schedule window, if it has one.
const T0 = Date.UTC(2026, 0, 6, 3, 0, 0);
const TICKS = 360; // 30 minutes of 5 s ticks
const END = T0 + (TICKS - 1) * 5000;
const CAP = 50; // the recorded guests run at cpu = 100 * rps / 50

/** Load: 60 rps for 10 min, 300 rps for 10 min, 60 rps. The recorded run stayed at 2 guests
 *  until minute 15 (scaled out late), ran 6, and went back to 2 at minute 25. */
function recordedGuests(i: number): number {
  const min = (i * 5) / 60;
  return min >= 15 && min < 25 ? 6 : 2;
}
function load(i: number): number {
  const min = (i * 5) / 60;
  return min >= 10 && min < 20 ? 300 : 60;
}

async function withStore<T>(fn: (dir: string, db: string) => Promise<T>, guests: readonly Guest[] = []): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-replay-'));
  const db = join(dir, 'gridhost.db');
  const store = openSqliteStore(db);
  try {
    await store.savePool({ pool: 'web', file: WEB, desired: 2, managed: true, updatedAt: T0 });
    for (let i = 0; i < TICKS; i++) {
      const n = recordedGuests(i);
      const s: PoolSample = { at: T0 + i * 5000, guests: {} };
      for (let g = 0; g < n; g++) {
        const rps = load(i) / n;
        s.guests[`web-g${g}`] = { rps, cpu: Math.min(100, (100 * rps) / CAP), inflight: 1 };
      }
      await store.appendSample('web', s);
    }
    const ev = (at: number, direction: 'scale-out' | 'scale-in', from: number, to: number) =>
      store.appendEvent({ pool: 'web', at, direction, from, to, reason: 'recorded', inputs: { series: {}, min: 2, max: 8, schedules: [] }, outcome: 'done' });
    await ev(T0 - 3_600_000, 'scale-out', 2, 3); // before the recording: not counted
    await ev(T0 + 14 * 60_000, 'scale-out', 2, 6);
    await ev(T0 + 25 * 60_000, 'scale-in', 6, 2);
    for (const g of guests) await store.saveGuest(g);
  } finally {
    await store.close();
  }
  try {
    return await fn(dir, db);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function cli(args: string[], dir: string, env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSimulate(args, { out: (s) => out.push(s), err: (s) => err.push(s) }, { env, cwd: dir, now: () => END });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('--replay reads the pool recorded in the configured store and compares the recorded run with the policy', async (t) => {
  await withStore(async (dir, db) => {
    const r = await cli(['--policy', WEB, '--replay', 'web', '--json'], dir, { GRIDHOST_SQLITE_PATH: db });
    t.is(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    t.is(j.replay.pool, 'web');
    t.is(j.replay.ticks, TICKS);
    t.is(j.replay.steps, TICKS);
    t.is(j.replay.stepSeconds, 5);
    t.is(j.replay.from, new Date(T0).toISOString());
    t.is(j.model.capacityPerGuest, CAP);
    t.regex(j.model.capacityFrom, /estimated/);
    t.is(j.recorded.scaleOut, 1);
    t.is(j.recorded.scaleIn, 1);
    t.deepEqual(j.recorded.actions.map((a: { to: number }) => a.to), [6, 2]);
    let guestSteps = 0;
    for (let i = 0; i < TICKS; i++) guestSteps += recordedGuests(i);
    t.true(Math.abs(j.recorded.servingGuestHours - (guestSteps * 5) / 3600) < 1e-9);
    // The recorded run was short of guests from minute 10 to 15; the policy reacts within a minute or two.
    t.true(j.recorded.metrics.timeshareU > 0.15, String(j.recorded.metrics.timeshareU));
    t.true(j.simulated.metrics.timeshareU < j.recorded.metrics.timeshareU, `${j.simulated.metrics.timeshareU} vs ${j.recorded.metrics.timeshareU}`);
    t.true(j.simulated.scaleOut >= 1);
    t.is(j.simulated.actions[0].direction, 'scale-out');
    t.true(Date.parse(j.simulated.actions[0].at) >= T0 + 10 * 60_000);
  });
});

test('the text report puts recorded and simulated figures side by side', async (t) => {
  await withStore(async (dir, db) => {
    await writeFile(join(dir, 'gridhost.yaml'), `store:\n  kind: sqlite\n  path: ${db}\n`);
    const r = await cli(['--policy', WEB, '--replay', 'web'], dir, {});
    t.is(r.code, 0, r.err);
    t.regex(r.out, /^\s+recorded\s+simulated$/m);
    t.regex(r.out, /^scale actions\s+2\s+\d+$/m);
    t.regex(r.out, /^serving guest-hours\s+\d+\.\d\d\s+\d+\.\d\d$/m);
    t.regex(r.out, /^timeshare_U\s+\d+\.\d\d%\s+\d+\.\d\d%$/m);
    t.regex(r.out, /replay\s+pool web from sqlite .*gridhost\.db: 360 ticks/);
  });
});

test('--since and --until (a date or a duration ago) cut the replay', async (t) => {
  await withStore(async (dir, db) => {
    const env = { GRIDHOST_SQLITE_PATH: db };
    const a = await cli(['--policy', WEB, '--replay', 'web', '--json', '--since', '10m'], dir, env);
    t.is(a.code, 0, a.err);
    t.is(JSON.parse(a.out).replay.ticks, 121); // END - 10 min .. END, both inclusive
    const b = await cli(['--policy', WEB, '--replay', 'web', '--json', '--since', new Date(T0 + 60_000).toISOString(), '--until', new Date(T0 + 120_000).toISOString()], dir, env);
    t.is(b.code, 0, b.err);
    t.is(JSON.parse(b.out).replay.ticks, 13);
    t.is(JSON.parse(b.out).recorded.scaleOut, 0);
  });
});

test('an unknown pool is GH_NOT_FOUND naming the recorded pools, exit 1', async (t) => {
  await withStore(async (dir, db) => {
    const r = await cli(['--policy', WEB, '--replay', 'api'], dir, { GRIDHOST_SQLITE_PATH: db });
    t.is(r.code, 1);
    t.regex(r.err, /GH_NOT_FOUND: no pool "api" in the sqlite store; pools recorded: web/);
  });
});

test('no samples in the range is GH_TRACE_INVALID naming the range, exit 1', async (t) => {
  await withStore(async (dir, db) => {
    const r = await cli(['--policy', WEB, '--replay', 'web', '--until', '2025-01-01T00:00:00Z'], dir, { GRIDHOST_SQLITE_PATH: db });
    t.is(r.code, 1);
    t.regex(r.err, /GH_TRACE_INVALID: pool "web" has no recorded samples between the beginning and 2025-01-01T00:00:00.000Z/);
  });
});

test('a store file that does not exist is GH_NOT_FOUND and is not created', async (t) => {
  await withStore(async (dir) => {
    const missing = join(dir, 'nope', 'gridhost.db');
    const r = await cli(['--policy', WEB, '--replay', 'web'], dir, { GRIDHOST_SQLITE_PATH: missing });
    t.is(r.code, 1);
    t.regex(r.err, /GH_NOT_FOUND: no store at .*nope\/gridhost\.db/);
    const { existsSync } = await import('node:fs');
    t.false(existsSync(missing));
  });
});

test('a --metric nobody recorded names the recorded metrics', async (t) => {
  await withStore(async (dir, db) => {
    const r = await cli(['--policy', WEB, '--replay', 'web', '--metric', 'qps'], dir, { GRIDHOST_SQLITE_PATH: db });
    t.is(r.code, 1);
    t.regex(r.err, /GH_TRACE_INVALID: no recorded guest reported the metric "qps"; recorded metrics: cpu, inflight, rps/);
  });
});

test('a bad --since is reported, exit 1', async (t) => {
  await withStore(async (dir, db) => {
    const r = await cli(['--policy', WEB, '--replay', 'web', '--since', 'last week'], dir, { GRIDHOST_SQLITE_PATH: db });
    t.is(r.code, 1);
    t.regex(r.err, /--since "last week" is neither an ISO-8601 date/);
  });
});

/** The guests the recorded run kept in the store: two from before the recording, four launched
 *  by the scale-out at minute 14 (healthy 0.9-1.3 s after creation, as local guests are) and
 *  retired by the scale-in at minute 25 (gone 12 s after it). */
function recordedGuestRecords(): Guest[] {
  const g = (id: string, createdAt: number, upMs: number, goneAt?: number): Guest => ({
    id,
    pool: 'web',
    state: goneAt === undefined ? 'healthy' : 'gone',
    driver: 'local',
    host: 'localhost',
    createdAt,
    healthyAt: createdAt + upMs,
    updatedAt: goneAt ?? createdAt + upMs,
    meta: {},
  });
  const out = T0 + 14 * 60_000 + 200;
  const gone = T0 + 25 * 60_000 + 12_000;
  return [
    g('web-g0', T0 - 3_600_000, 40_000),
    g('web-g1', T0 - 3_600_000, 40_000),
    g('web-g2', out, 1100, gone),
    g('web-g3', out, 900, gone),
    g('web-g4', out, 1000, gone),
    g('web-g5', out, 1300, gone),
  ];
}

test('a replay boots, health-checks and drains its guests as long as the recorded run did (the store\'s guest records)', async (t) => {
  await withStore(async (dir, db) => {
    const env = { GRIDHOST_SQLITE_PATH: db };
    const r = await cli(['--policy', WEB, '--replay', 'web', '--json'], dir, env);
    t.is(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    // Median of the four guests created in the range: (1.0 + 1.1) / 2 s; the two older ones are not used.
    t.is(j.model.bootSeconds, 1.05);
    t.is(j.model.healthDelaySeconds, 0);
    t.regex(j.model.bootFrom, /^recorded: median of 4 guests from creation to healthy in the replayed range$/);
    t.is(j.model.drainSeconds, 12);
    t.regex(j.model.drainFrom, /^recorded: median of 4 guests from scale-in to gone in the replayed range$/);
    t.deepEqual(j.recorded.timings, { upSeconds: 1.05, upGuests: 4, upInRange: true, drainSeconds: 12, drainGuests: 4, drainInRange: true });

    // The timing is what the simulation used: with the default 30 s + 5 s boot the same policy is short of guests for longer.
    const slow = JSON.parse((await cli(['--policy', WEB, '--replay', 'web', '--json', '--boot', '30'], dir, env)).out);
    t.is(slow.model.bootSeconds, 30);
    t.is(slow.model.healthDelaySeconds, 5);
    t.is(slow.model.bootFrom, 'given');
    t.is(slow.model.drainSeconds, 12);
    t.true(j.simulated.metrics.timeshareU < slow.simulated.metrics.timeshareU, `${j.simulated.metrics.timeshareU} vs ${slow.simulated.metrics.timeshareU}`);

    const given = JSON.parse((await cli(['--policy', WEB, '--replay', 'web', '--json', '--health-delay', '2', '--drain', '3'], dir, env)).out);
    t.deepEqual([given.model.bootSeconds, given.model.healthDelaySeconds, given.model.drainSeconds, given.model.drainFrom], [30, 2, 3, 'given']);

    const text = await cli(['--policy', WEB, '--replay', 'web'], dir, env);
    t.regex(text.out, /^timings\s+boot 1\.05 s \+ health delay 0 s \(recorded: median of 4 guests/m);
    t.regex(text.out, /^\s+drain 12 s \(recorded: median of 4 guests from scale-in to gone/m);
  }, recordedGuestRecords());
});

test('a store without guest records replays with the default timings and says so', async (t) => {
  await withStore(async (dir, db) => {
    const j = JSON.parse((await cli(['--policy', WEB, '--replay', 'web', '--json'], dir, { GRIDHOST_SQLITE_PATH: db })).out);
    t.deepEqual([j.model.bootSeconds, j.model.healthDelaySeconds, j.model.drainSeconds], [30, 5, 10]);
    t.regex(j.model.bootFrom, /^default; the store has no guest that became healthy$/);
    t.regex(j.model.drainFrom, /^default; the store has no guest retired by a scale-in$/);
  });
});

test('the replay chart shows the recorded supply beside the simulated one, on a UTC time axis', async (t) => {
  await withStore(async (dir, db) => {
    const r = await cli(['--policy', WEB, '--replay', 'web', '--plot', 'replay.svg'], dir, { GRIDHOST_SQLITE_PATH: db });
    t.is(r.code, 0, r.err);
    t.regex(r.out, /^chart\s+replay\.svg$/m);
    const svg = await readFile(join(dir, 'replay.svg'), 'utf8');
    const l = layout(svg);
    t.deepEqual(textsOf(l, 'role-legend-label').map((x) => x.text), ['load, rps (right axis)', 'demand, guests', 'simulated supply, guests', 'recorded supply, guests']);
    t.true(textsOf(l, 'role-axis-title').some((x) => x.text === 'time (UTC), from 2026-01-06 03:00'));
    // The recorded supply is the recording's: 2 guests, 6 from minute 15 to 25, then 2 (y grows downwards from the panel's height).
    const h = boxOf(l, 'guests-panel')!.h;
    const ys = [...new Set(pathPoints(svg, 'recorded-supply-line').map(([, y]) => y))];
    t.is(ys.length, 2, ys.join(' '));
    const [y2, y6] = ys as [number, number];
    t.true(Math.abs((h - y6) / (h - y2) - 3) < 1e-6, `${y2} ${y6}`);
    t.true(pathPoints(svg, 'supply-line').length > 2);
  }, recordedGuestRecords());
});

const usage: [string, string[], RegExp][] = [
  ['both --trace and --replay', ['--policy', 'x', '--trace', 't', '--replay', 'web'], /either --trace FILE or --replay POOL, not both/],
  ['--since without --replay', ['--policy', 'x', '--trace', 't', '--since', '2h'], /--since only applies to --replay/],
  ['--peak-guests with --replay', ['--policy', 'x', '--replay', 'web', '--peak-guests', '8'], /--peak-guests rescales a trace file/],
];
for (const [name, args, re] of usage) {
  test(`usage error (exit 2): ${name}`, async (t) => {
    const r = await cli(args, tmpdir(), {});
    t.is(r.code, 2);
    t.regex(r.err, re);
  });
}
