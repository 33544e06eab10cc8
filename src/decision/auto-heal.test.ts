import test from 'ava';
import type { Guest, GuestState } from '../domain/types.ts';
import { confirmMs, findSick, planReplacements, type BackendHealth } from './auto-heal.ts';
import { makePolicy } from './test-helpers.ts';

const g = (id: string, state: GuestState = 'healthy', updatedAt = 0): Guest => ({ id, pool: 'web', state, driver: 'local', host: 'localhost', createdAt: 0, updatedAt, meta: {} });
const up: BackendHealth = { healthy: true, downs: 0 };
const fell: BackendHealth = { healthy: false, downs: 1, lastCheck: { ok: false, detail: 'HTTP 503' } };
const neverUp: BackendHealth = { healthy: false, downs: 0 };
const view = (backends: Record<string, BackendHealth>, o: { failOpen?: boolean; gone?: string[] } = {}) => ({
  backends: new Map(Object.entries(backends)), failOpen: o.failOpen ?? false, gone: new Set(o.gone ?? []), fall: 2,
});

test('a serving guest whose check fell after passing is sick, saying what the check saw', (t) => {
  const r = findSick([g('a'), g('b')], view({ a: up, b: fell }));
  t.deepEqual(r.map((v) => [v.guest.id, v.cause]), [['b', 'health']]);
  t.is(r[0]!.reason, 'failed its health check 2 times in a row after being healthy, the last: HTTP 503');
});

test('a fall is trusted only after the confirmation window: (fall + 1) check intervals', (t) => {
  const policy = makePolicy({ balancer: { ...makePolicy().balancer, check: { intervalMs: 500, fall: 2 } } });
  t.is(confirmMs(policy), 1500);
  const at = (now: number) => findSick([g('a'), g('b')], { ...view({ a: up, b: { ...fell, changedAt: 10_000 } }), now, confirmMs: confirmMs(policy) });
  t.deepEqual(at(11_499), [], 'down for 1499 ms: others failing at the same moment may still fall');
  t.deepEqual(at(11_500).map((v) => v.guest.id), ['b']);
});

test('a fallen guest that still completes requests is busy, not broken: the window runs from its last completed request', (t) => {
  const policy = makePolicy({ balancer: { ...makePolicy().balancer, check: { intervalMs: 500, fall: 2 } } });
  const at = (now: number, servedAt: number) => findSick([g('a')], { ...view({ a: { ...fell, changedAt: 10_000, servedAt } }), now, confirmMs: confirmMs(policy) });
  t.deepEqual(at(11_600, 11_000), [], 'answered a request 600 ms ago: its checks time out behind real work');
  t.deepEqual(at(12_500, 11_000).map((v) => v.guest.id), ['a'], 'nothing completed for the whole window');
  t.deepEqual(at(11_500, 9_000).map((v) => v.guest.id), ['a'], 'a last answer before the fall changes nothing');
});

test('without check settings in the policy the window uses the longer balancer default (2 s interval, fall 2)', (t) => {
  t.is(confirmMs(makePolicy()), 6000);
});

test('a guest whose check never passed since it was (re-)added is not sick: it has not risen yet', (t) => {
  t.deepEqual(findSick([g('a')], view({ a: neverUp })), []);
});

test('a guest whose process is gone is sick whatever its check says', (t) => {
  t.deepEqual(findSick([g('a')], view({ a: up }, { gone: ['a'] })).map((v) => v.cause), ['gone']);
});

test('in fail-open failed checks make nobody sick; a gone process still does', (t) => {
  const r = findSick([g('a'), g('b')], view({ a: fell, b: fell }, { failOpen: true, gone: ['b'] }));
  t.deepEqual(r.map((v) => [v.guest.id, v.cause]), [['b', 'gone']]);
});

test('only serving guests are judged: booting, draining and already sick ones are not', (t) => {
  const r = findSick([g('a', 'booting'), g('b', 'draining'), g('c', 'sick')], view({ a: fell, b: fell, c: fell }, { gone: ['a', 'b', 'c'] }));
  t.deepEqual(r, []);
});

test('without the balancer\'s view only gone processes are found', (t) => {
  t.deepEqual(findSick([g('a'), g('b')], { failOpen: false, gone: new Set(['b']) }).map((v) => v.guest.id), ['b']);
});

const policy = makePolicy({ autoHeal: { enabled: true, maxConcurrent: 2 } });

test('sick guests are replaced oldest first, up to the cap', (t) => {
  const guests = [g('s3', 'sick', 30), g('s1', 'sick', 10), g('s2', 'sick', 20), g('h', 'healthy')];
  const plan = planReplacements(policy, guests, [], 'closed');
  t.deepEqual(plan.start.map((x) => x.id), ['s1', 's2']);
  t.regex(plan.waiting!, /1 sick guest\(s\) wait: 2 replacement\(s\) under way \(auto_heal.max_concurrent 2\)/);
});

test('replacements under way use up the cap and are not started twice', (t) => {
  const plan = planReplacements(policy, [g('s1', 'sick'), g('s2', 'sick')], [{ sick: 's1', startedAt: 0 }], 'closed');
  t.deepEqual(plan.start.map((x) => x.id), ['s2']);
  t.is(plan.waiting, undefined);
});

test('an open breaker holds every replacement; half-open allows one trial at a time', (t) => {
  const guests = [g('s1', 'sick'), g('s2', 'sick')];
  t.deepEqual(planReplacements(policy, guests, [], 'open'), { start: [], waiting: '2 sick guest(s) wait: the launch circuit breaker is open' });
  t.deepEqual(planReplacements(policy, guests, [], 'half-open').start.map((x) => x.id), ['s1']);
});

test('auto-heal disabled replaces nothing: sick guests are retired, whatever the breaker, and not twice', (t) => {
  const off = makePolicy({ autoHeal: { enabled: false, maxConcurrent: 1 } });
  const guests = [g('s1', 'sick'), g('s2', 'sick'), g('h1', 'healthy')];
  for (const breaker of ['closed', 'open'] as const) {
    const plan = planReplacements(off, guests, [{ sick: 's1', startedAt: 0 }], breaker);
    t.deepEqual(plan.start, [], breaker);
    t.deepEqual(plan.retire?.map((x) => x.id), ['s2'], breaker);
  }
});
