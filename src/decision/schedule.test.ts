import test from 'ava';
import { GridhostError } from '../errors/errors.ts';
import { boundsAt, lastFire } from './schedule.ts';
import { campaign, makePolicy } from './test-helpers.ts';

const HOUR = 3600_000;
// Monday 2026-01-12: 09:00 in Berlin (CET, UTC+1) is 08:00 UTC.
const MON_9_BERLIN = Date.UTC(2026, 0, 12, 8, 0, 0);

test('a schedule raises min inside its window', (t) => {
  const policy = makePolicy({ schedules: [campaign({ min: 4 })] });
  t.deepEqual(boundsAt(policy, MON_9_BERLIN + HOUR), { min: 4, max: 8, active: ['campaign'], minBy: 'campaign' });
  t.deepEqual(boundsAt(policy, MON_9_BERLIN - HOUR), { min: 2, max: 8, active: [] });
  // Saturday: the cron fires on weekdays only, Friday's window ended at 18:00 Berlin
  t.deepEqual(boundsAt(policy, Date.UTC(2026, 0, 17, 10, 0, 0)), { min: 2, max: 8, active: [] });
});

test('a schedule window ends at start + duration (exclusive)', (t) => {
  const policy = makePolicy({ schedules: [campaign({ durationMs: 9 * HOUR })] });
  const cases = [
    { at: MON_9_BERLIN - 1, active: false },
    { at: MON_9_BERLIN, active: true }, // start inclusive
    { at: MON_9_BERLIN + 9 * HOUR - 1, active: true },
    { at: MON_9_BERLIN + 9 * HOUR, active: false }, // end exclusive
  ];
  for (const c of cases) t.is(boundsAt(policy, c.at).active.length === 1, c.active, new Date(c.at).toISOString());
});

test('schedules read cron in their time zone', (t) => {
  const berlin = campaign({ cron: '0 9 * * *', timezone: 'Europe/Berlin' });
  t.is(lastFire(berlin, MON_9_BERLIN + 1000), MON_9_BERLIN, 'winter: 09:00 Berlin = 08:00 UTC');
  const summer = Date.UTC(2026, 6, 13, 7, 0, 0); // 09:00 CEST = 07:00 UTC
  t.is(lastFire(berlin, summer + 1000), summer, 'summer: 09:00 Berlin = 07:00 UTC');
  const utc = campaign({ cron: '0 9 * * *', timezone: 'UTC' });
  t.is(lastFire(utc, MON_9_BERLIN + 1000), Date.UTC(2026, 0, 11, 9, 0, 0), 'UTC reads 09:00 as 09:00 UTC (yesterday at 08:00 UTC)');
});

test('with several active schedules the largest min and the largest max apply', (t) => {
  const policy = makePolicy({
    schedules: [
      campaign({ name: 'a', min: 3, max: 6 }),
      campaign({ name: 'b', min: 5, max: 7 }),
      campaign({ name: 'c', min: 4 }),
    ],
  });
  t.deepEqual(boundsAt(policy, MON_9_BERLIN), { min: 5, max: 7, active: ['a', 'b', 'c'], minBy: 'b', maxBy: 'b' });
});

test('a schedule max replaces the policy max, and a raised min wins over a lower max', (t) => {
  const night = { name: 'night', cron: '0 22 * * *', timezone: 'UTC', durationMs: 8 * HOUR };
  const at = Date.UTC(2026, 0, 12, 23, 0, 0);
  t.deepEqual(boundsAt(makePolicy({ schedules: [{ ...night, max: 3 }] }), at), { min: 2, max: 3, active: ['night'], maxBy: 'night' });
  t.deepEqual(boundsAt(makePolicy({ schedules: [{ ...night, max: 12 }] }), at), { min: 2, max: 12, active: ['night'], maxBy: 'night' });
  t.deepEqual(boundsAt(makePolicy({ schedules: [{ ...night, max: 3 }, { ...night, name: 'promo', min: 5 }] }), at), {
    min: 5,
    max: 5,
    active: ['night', 'promo'],
    minBy: 'promo',
    maxBy: 'night',
  });
});

test('a schedule min below the policy min changes nothing', (t) => {
  t.deepEqual(boundsAt(makePolicy({ min: 3, schedules: [campaign({ min: 1 })] }), MON_9_BERLIN), { min: 3, max: 8, active: ['campaign'] });
});

test('an unreadable cron throws GH_POLICY_INVALID naming the schedule', (t) => {
  for (const s of [campaign({ cron: 'every morning' }), campaign({ timezone: 'Mars/Olympus' })]) {
    const e = t.throws(() => boundsAt(makePolicy({ schedules: [s] }), MON_9_BERLIN));
    t.true(e instanceof GridhostError);
    t.is((e as GridhostError).code, 'GH_POLICY_INVALID');
    t.regex(e!.message, /schedule "campaign"/);
  }
});

test('the latest fire is right across fire boundaries in any query order (memoized)', (t) => {
  const s = campaign({ cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' });
  const FRI_9_BERLIN = Date.UTC(2026, 0, 9, 8, 0, 0);
  const TUE_9_BERLIN = Date.UTC(2026, 0, 13, 8, 0, 0);
  const cases = [
    { at: MON_9_BERLIN + HOUR, fire: MON_9_BERLIN },
    { at: TUE_9_BERLIN - 1, fire: MON_9_BERLIN },
    { at: TUE_9_BERLIN, fire: TUE_9_BERLIN },
    { at: MON_9_BERLIN, fire: MON_9_BERLIN },
    { at: MON_9_BERLIN - 1, fire: FRI_9_BERLIN },
    { at: MON_9_BERLIN + 2 * HOUR, fire: MON_9_BERLIN },
  ];
  for (const round of [1, 2]) {
    for (const c of cases) t.is(lastFire(s, c.at), c.fire, `round ${round}: ${new Date(c.at).toISOString()}`);
  }
});
