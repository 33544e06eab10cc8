// The warm_pool key (issue 14): off by default, a size of guests kept made and paused, refused
// for a driver that cannot pause guests, with the file's line and field.
import test from 'ava';
import { runPatched as run } from './policy-cases.ts';

function issues(r: ReturnType<typeof run>) {
  return r.ok ? [] : r.issues.map((i) => ({ path: i.path, message: i.message, line: i.line }));
}

test('a policy has no warm pool unless it asks for one', (t) => {
  const r = run(() => {});
  t.true(r.ok);
  if (r.ok) t.is(r.policy.warmPool, undefined);
});

test('warm_pool.size keeps that many guests warm; size 0 is no warm pool', (t) => {
  const r = run((p) => (p.warm_pool = { size: 2 }), { unpausableDrivers: ['other'] });
  t.true(r.ok, JSON.stringify(issues(r)));
  if (r.ok) t.deepEqual(r.policy.warmPool, { size: 2 });
  const off = run((p) => (p.warm_pool = { size: 0 }));
  if (off.ok) t.is(off.policy.warmPool, undefined);
  else t.fail(JSON.stringify(issues(off)));
});

test('warm_pool.size is a whole number from 0 to limits.hard_max, and required', (t) => {
  for (const [size, want] of [[-1, />= 0/], [9, /hard_max/], [1.5, /integer/]] as const) {
    const is = issues(run((p) => (p.warm_pool = { size })));
    t.is(is.length, 1, JSON.stringify(is));
    t.is(is[0]?.path, 'warm_pool.size');
    t.regex(is[0]?.message ?? '', want);
  }
  const missing = issues(run((p) => (p.warm_pool = {})));
  t.is(missing.length, 1);
  t.regex(`${missing[0]?.path}: ${missing[0]?.message}`, /warm_pool.*size|required/);
});

test('warm_pool takes only its keys', (t) => {
  const is = issues(run((p) => (p.warm_pool = { size: 1, paused: true })));
  t.is(is.length, 1);
  t.is(is[0]?.path, 'warm_pool.paused');
});

test('a warm pool is refused, at its size\'s line, for a driver that cannot pause guests', (t) => {
  const is = issues(run((p) => (p.warm_pool = { size: 1 }), { unpausableDrivers: ['local'] }));
  t.is(is.length, 1);
  t.is(is[0]?.path, 'warm_pool.size');
  t.regex(is[0]?.message ?? '', /guest\.driver local cannot pause guests, so it cannot keep a warm pool/);
  t.true((is[0]?.line ?? 0) > 1);
});
