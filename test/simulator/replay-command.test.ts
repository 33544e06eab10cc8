// `gridhost simulate --replay` against a real SQLite store in a temp dir, found through the
// same configuration path as `gridhost run` (GRIDHOST_SQLITE_PATH / gridhost.yaml).
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PoolSample } from '../../src/domain/types.ts';
import { runSimulate } from '../../src/simulator/simulate-command.ts';
import { openSqliteStore } from '../../src/store/sqlite-store.ts';

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

async function withStore<T>(fn: (dir: string, db: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-replay-'));
  const db = join(dir, 'gridhost.db');
  const store = openSqliteStore(db);
  try {
    await store.upsertPool({ pool: 'web', file: WEB, desired: 2, managed: true, updatedAt: T0 });
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
