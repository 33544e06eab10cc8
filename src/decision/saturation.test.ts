// A guest that cannot report while the balancer sends it traffic is saturated, not missing:
// the rule wants more guests instead of holding (on_missing keeps its meaning for guests that
// report nothing at all and serve nothing).
import test from 'ava';
import type { MetricValues, PoolSample } from '../domain/types.ts';
import { desiredSize } from '../domain/types.ts';
import { decide } from './decide.ts';
import { healthy, INTERVAL, makePolicy, makeView, NOW, rpsRule } from './test-helpers.ts';

/** Ticks of 4 guests: `who` reports only the balancer's view (metrics unreadable); the rest report rps 40. */
function ticks(n: number, saturated: readonly string[], opts: { balancer?: MetricValues; others?: MetricValues } = {}): PoolSample[] {
  return Array.from({ length: n }, (_, i) => {
    const guests: Record<string, MetricValues> = {};
    for (const g of healthy(4)) {
      const lb = opts.balancer ?? { 'balancer:rps': 30, 'balancer:inflight': 5 };
      guests[g.id] = saturated.includes(g.id) ? { ...lb } : { ...(opts.others ?? { rps: 40 }), ...lb };
    }
    return { at: NOW - (n - 1 - i) * INTERVAL, guests };
  });
}

const policy = makePolicy({ rules: [rpsRule({ target: 40, for: 2 })], scaleOut: { cooldownMs: 0, whileBooting: 'hold' } });

test('two guests too busy to report while serving: the pool grows by one guest for each', (t) => {
  const r = decide(policy, makeView({ guests: healthy(4), samples: ticks(2, ['web-1', 'web-2']) }, policy), NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(desiredSize(r.decision), 6);
  t.regex(r.decision.reason, /2 guests saturated: rps unreadable while the balancer sends them traffic, for 2 samples/);
});

test('when no guest can report and all serve, the pool grows instead of holding on missing samples', (t) => {
  const all = healthy(4).map((g) => g.id);
  const held = makePolicy({ ...policy, onMissing: 'hold' });
  const r = decide(held, makeView({ guests: healthy(4), samples: ticks(2, all) }, held), NOW);
  t.is(desiredSize(r.decision), 8);
  t.notRegex(r.decision.reason, /missing/);
});

test('saturation must hold for the rule\'s whole `for`: one tick of it is not enough', (t) => {
  const s = [...ticks(1, []), ...ticks(1, ['web-1'])];
  s[0]!.at = NOW - INTERVAL;
  const r = decide(policy, makeView({ guests: healthy(4), samples: s }, policy), NOW);
  t.is(r.decision.action, 'hold');
});

test('a guest that reports nothing and gets no traffic is missing, as before (on_missing decides)', (t) => {
  const all = healthy(4).map((g) => g.id);
  const idle = ticks(2, all, { balancer: { 'balancer:rps': 0, 'balancer:inflight': 0 } });
  const held = makePolicy({ ...policy, onMissing: 'hold' });
  const r = decide(held, makeView({ guests: healthy(4), samples: idle }, held), NOW);
  t.is(r.decision.action, 'hold');
  t.regex(r.decision.reason, /missing samples for rps/);
});

test('the higher opinion wins: reporting guests far over target outbid the saturation step', (t) => {
  const r = decide(policy, makeView({ guests: healthy(4), samples: ticks(2, ['web-1'], { others: { rps: 160 } }) }, policy), NOW);
  // 3 ready x 160/40 = 12 -> max 8, more than 4 + 1.
  t.is(desiredSize(r.decision), 8);
  t.regex(r.decision.reason, /rps mean 160/);
});

test('a source: prometheus rule reads the pool\'s one value: guests serving traffic without it are not saturated', (t) => {
  const prom = makePolicy({ rules: [rpsRule({ name: 'q', metric: 'prometheus:q', promql: 'sum(x)', aggregate: 'sum', target: 40, for: 2 })], scaleOut: { cooldownMs: 0, whileBooting: 'hold' } });
  // Every guest serves and none reports prometheus:q (no guest ever does); the query said 150.
  const samples = ticks(2, healthy(4).map((g) => g.id)).map((s) => ({ ...s, pool: { 'prometheus:q': 150 } }));
  const r = decide(prom, makeView({ guests: healthy(4), samples }, prom), NOW);
  t.is(r.decision.action, 'hold', r.decision.reason);
  t.notRegex(r.decision.reason, /saturated/);
  // The value is what sizes the pool (sum: the pool's total): 150 / 40 keeps 4, 300 / 40 wants 8.
  const busy = ticks(2, []).map((s) => ({ ...s, pool: { 'prometheus:q': 300 } }));
  t.is(desiredSize(decide(prom, makeView({ guests: healthy(4), samples: busy }, prom), NOW).decision), 8);
});
