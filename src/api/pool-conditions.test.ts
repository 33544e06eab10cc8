import test from 'ava';
import { blockedReasons } from './pool-conditions.ts';

const NOW = 1_700_000_000_000;
const closed = { mode: 'closed' as const, consecutiveFailures: 0, remainingMs: 0 };

test('nothing blocks a pool with a closed breaker and no recent launch failure', (t) => {
  t.deepEqual(blockedReasons({ breaker: closed }, NOW), []);
  t.deepEqual(blockedReasons({ breaker: closed, lastLaunchError: { at: NOW - 11 * 60_000, code: 'GH_BOOT_FAILED', message: 'x' } }, NOW), [], 'an old failure says nothing');
});

test('an open breaker is named with its time left, and the last failure says why', (t) => {
  const b = blockedReasons({ breaker: { mode: 'open', consecutiveFailures: 3, remainingMs: 41_500 }, lastLaunchError: { at: NOW - 60 * 60_000, code: 'GH_OUT_OF_CAPACITY', message: 'no dom0 has 2048 MiB free' } }, NOW);
  t.deepEqual(b.map((x) => x.cause), ['breaker-open', 'hosts-full']);
  t.regex(b[0]!.message, /after 3 failed launches: no launch for another 42s/);
  t.regex(b[1]!.message, /GH_OUT_OF_CAPACITY: no dom0 has 2048 MiB free/);
});

const table: [string, string][] = [
  ['GH_OUT_OF_CAPACITY', 'hosts-full'],
  ['GH_HOST_UNREACHABLE', 'hosts-unreachable'],
  ['GH_HOST_KEY_MISMATCH', 'hosts-unreachable'],
  ['GH_BALANCER_FAILED', 'balancer-unreachable'],
  ['GH_HEALTH_TIMEOUT', 'launch-failing'],
];
for (const [code, cause] of table) {
  test(`a recent launch failure with ${code} blocks as ${cause}`, (t) => {
    t.deepEqual(blockedReasons({ breaker: closed, lastLaunchError: { at: NOW - 5000, code, message: 'm' } }, NOW).map((x) => x.cause), [cause]);
  });
}

test('a balancer that does not answer blocks the pool, once', (t) => {
  t.deepEqual(blockedReasons({ breaker: closed }, NOW, 'connect ECONNREFUSED').map((x) => x.cause), ['balancer-unreachable']);
  t.deepEqual(blockedReasons({ breaker: closed, lastLaunchError: { at: NOW, code: 'GH_BALANCER_FAILED', message: 'm' } }, NOW, 'down').map((x) => x.cause), ['balancer-unreachable']);
});

test('a spent flap budget blocks the pool and says when the next change is free', (t) => {
  const b = blockedReasons({ breaker: closed, lastHold: { cause: 'flap-budget', spent: 6, limit: 6, windowMs: 600_000, nextAt: NOW + 90_500, wanted: 5 } }, NOW);
  t.deepEqual(b.map((x) => x.cause), ['flap-budget']);
  t.regex(b[0]!.message, /6 of 6 guests started or stopped in the last 600s; the next change is free in 91s \(the rules want 5\)/);
});

test('saturated hosts block the pool and name each host\'s CPU use', (t) => {
  const b = blockedReasons({ breaker: closed, lastHold: { cause: 'hosts-saturated', hosts: [{ host: 'dom0-a', cpuRatio: 0.97 }, { host: 'dom0-b', cpuRatio: 0.914 }], threshold: 0.9, wanted: 4 } }, NOW);
  t.deepEqual(b.map((x) => x.cause), ['hosts-saturated']);
  t.regex(b[0]!.message, /use 90% or more of its CPUs \(dom0-a 97%, dom0-b 91%\)/);
});
