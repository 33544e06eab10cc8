import test from 'ava';
import { breakerMode, breakerRemainingMs, closedBreaker, recordLaunchFailure, recordLaunchSuccess } from './circuit-breaker.ts';

const cfg = { failures: 3, openMs: 60_000 };

test('the breaker opens on the Nth consecutive failure, not before', (t) => {
  let s = closedBreaker;
  s = recordLaunchFailure(s, cfg, 1000);
  s = recordLaunchFailure(s, cfg, 2000);
  t.is(breakerMode(s, cfg, 2000), 'closed');
  s = recordLaunchFailure(s, cfg, 3000);
  t.is(breakerMode(s, cfg, 3000), 'open');
  t.is(breakerRemainingMs(s, cfg, 3000), 60_000);
});

test('a success resets the failure count', (t) => {
  let s = recordLaunchFailure(recordLaunchFailure(closedBreaker, cfg, 0), cfg, 0);
  s = recordLaunchSuccess(s);
  s = recordLaunchFailure(s, cfg, 0);
  t.is(breakerMode(s, cfg, 0), 'closed');
  t.is(s.consecutiveFailures, 1);
});

test('the open period ends exactly at openedAt + openMs (half-open allows one trial)', (t) => {
  let s = closedBreaker;
  for (let i = 0; i < 3; i++) s = recordLaunchFailure(s, cfg, 10_000);
  t.is(breakerMode(s, cfg, 69_999), 'open');
  t.is(breakerMode(s, cfg, 70_000), 'half-open');
  t.is(breakerRemainingMs(s, cfg, 70_000), 0);
});

test('a failure in half-open re-opens at once', (t) => {
  let s = closedBreaker;
  for (let i = 0; i < 3; i++) s = recordLaunchFailure(s, cfg, 0);
  s = recordLaunchFailure(s, cfg, 61_000);
  t.is(breakerMode(s, cfg, 61_000), 'open');
  t.is(s.openedAt, 61_000);
});

test('a success in half-open closes the breaker', (t) => {
  let s = closedBreaker;
  for (let i = 0; i < 3; i++) s = recordLaunchFailure(s, cfg, 0);
  s = recordLaunchSuccess(s);
  t.is(breakerMode(s, cfg, 61_000), 'closed');
});
