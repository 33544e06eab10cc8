// The pool memory's sample window as a data structure (aggregate.ts TickWindow, cut by
// pool-memory.ts): over random runs, what it holds after every tick must equal a recomputation
// from the raw samples still inside the window, older windows must read what they read however
// the newer ones grow or fork, and the columns must stay bounded as their live ticks are copied
// out (the ring's wrap-around into fresh columns).
import test from 'ava';
import { balancerSampleKey } from '../domain/balancer-metrics.ts';
import type { Policy, Rule } from '../domain/policy.ts';
import type { Guest, GuestState, MetricValues, PoolSample } from '../domain/types.ts';
import { compactWindow, reporters, ruleValue, saturated, slackOf, windowSize, type TickWindow } from './aggregate.ts';
import { emptyMemory, remember, sampleWindowMs, type PoolMemory } from './pool-memory.ts';
import { busyRule, guest, makePolicy, NOW, rpsRule } from './test-helpers.ts';
import { mulberry32 as rng } from '../simulator/synthetic.ts';

const METRICS = ['cpu', 'rps'] as const;
const STATES: GuestState[] = ['healthy', 'healthy', 'healthy', 'booting', 'cloning', 'draining', 'stopping'];

interface Raw {
  sample: PoolSample;
  guests: Guest[];
}

/** One tick recomputed from its raw sample the way the window's rules define it (aggregate.ts). */
function naiveTick(policy: Policy, raw: Raw) {
  const { sample, guests } = raw;
  let eligible = 0;
  const sums: Record<string, { sum: number; max: number; count: number }> = {};
  const sat: Record<string, number> = {};
  for (const g of guests) {
    if (!(g.state === 'healthy' && g.healthyAt !== undefined && g.healthyAt + policy.warmupMs <= sample.at)) continue;
    eligible++;
    const values = sample.guests[g.id];
    if (values === undefined) continue;
    for (const [k, v] of Object.entries(values)) {
      if (!Number.isFinite(v)) continue;
      const s = (sums[k] ??= { sum: 0, max: -Infinity, count: 0 });
      s.sum += v;
      s.max = Math.max(s.max, v);
      s.count++;
    }
    const served = (values[balancerSampleKey('rps')] ?? 0) > 0 || (values[balancerSampleKey('inflight')] ?? 0) > 0;
    if (!served) continue;
    for (const m of METRICS) if (!Number.isFinite(values[m] ?? Number.NaN)) sat[m] = (sat[m] ?? 0) + 1;
  }
  return { at: sample.at, eligible, sums, sat };
}

function randomGuests(rand: () => number, at: number): Guest[] {
  const n = Math.floor(rand() * 7);
  return Array.from({ length: n }, (_, i) => {
    const state = STATES[Math.floor(rand() * STATES.length)]!;
    // Some healthy guests are still warming up at this tick, some became healthy long ago.
    return guest(`web-${i + 1}`, state, rand() < 0.3 ? at - Math.floor(rand() * 20_000) : at - 3600_000);
  });
}

function randomSample(rand: () => number, guests: readonly Guest[], at: number): PoolSample {
  const values: Record<string, MetricValues> = {};
  const ids = guests.map((g) => g.id);
  if (rand() < 0.2) ids.push('web-99'); // a guest the pool does not know
  for (const id of ids) {
    if (rand() < 0.1) continue; // not sampled at all
    const v: Record<string, number> = {};
    for (const m of METRICS) {
      const r = rand();
      if (r < 0.15) continue; // metric missing
      v[m] = r < 0.2 ? Number.NaN : Math.round(rand() * 1000) / 10;
    }
    if (rand() < 0.3) v[balancerSampleKey('rps')] = Math.round(rand() * 50);
    values[id] = v;
  }
  return { at, guests: values };
}

/** Everything the window says about its ticks, read through the accessors decide() uses. */
function readWindow(w: TickWindow, rules: readonly Rule[]) {
  const out: unknown[] = [];
  for (let t = w.start; t < w.end; t++) {
    out.push({
      at: w.at[t],
      eligible: w.eligible[t],
      values: rules.map((r) => ['mean', 'max', 'sum'].map((aggregate) => ruleValue(w, t, { ...r, aggregate: aggregate as Rule['aggregate'] }))),
      reporters: METRICS.map((m) => reporters(w, t, m)),
      saturated: METRICS.map((m) => saturated(w, t, m)),
    });
  }
  return out;
}

/** The same, recomputed from the raw samples inside the window. */
function readNaive(policy: Policy, raws: readonly Raw[], rules: readonly Rule[]) {
  return raws.map((raw) => {
    const n = naiveTick(policy, raw);
    const value = (k: string, aggregate: string) => {
      const s = n.sums[k];
      if (s === undefined || s.count === 0) return null;
      return aggregate === 'mean' ? s.sum / s.count : aggregate === 'max' ? s.max : s.sum;
    };
    return {
      at: n.at,
      eligible: n.eligible,
      values: rules.map((r) => ['mean', 'max', 'sum'].map((a) => value(r.metric, a))),
      reporters: METRICS.map((m) => n.sums[m]?.count ?? 0),
      saturated: METRICS.map((m) => n.sat[m] ?? 0),
    };
  });
}

test('over random runs the window holds exactly a recomputation of the samples younger than the window, its columns bounded', (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = rng(seed);
    const intervalMs = 1000 + Math.floor(rand() * 9000);
    const rules: Rule[] = [busyRule({ for: 1 + Math.floor(rand() * 10) }), rpsRule({ for: 1 + Math.floor(rand() * 10) })];
    const policy = makePolicy({ sampling: { intervalMs, windowMs: Math.floor(rand() * 40) * intervalMs }, warmupMs: Math.floor(rand() * 15_000), rules });
    const windowMs = sampleWindowMs(policy);
    let memory: PoolMemory = emptyMemory();
    const raws: Raw[] = [];
    let at = NOW;
    for (let step = 0; step < 300; step++) {
      // Mostly regular ticks, sometimes a gap of many intervals (eviction of several ticks at once).
      at += rand() < 0.05 ? intervalMs * (2 + Math.floor(rand() * 30)) : intervalMs - 500 + Math.floor(rand() * 1000);
      const guests = randomGuests(rand, at);
      const sample = randomSample(rand, guests, at);
      memory = remember(policy, memory, { kind: 'sampled', sample, guests }, at);
      raws.push({ sample, guests });
      while (raws.length > 0 && !(at - raws[0]!.sample.at < windowMs)) raws.shift();
      const w = memory.ticks;
      const want = readNaive(policy, raws, rules);
      const got = readWindow(w, rules);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        t.deepEqual(got, want, `seed ${seed}, step ${step}`);
        return;
      }
      const live = windowSize(w);
      if (w.start > slackOf(live) + 1 || w.at.length > live + slackOf(live) + 1) {
        t.fail(`seed ${seed}, step ${step}: ${w.at.length} entries held (${w.start} cut) for ${live} live ticks`);
        return;
      }
    }
  }
  t.pass();
});

test('an older window reads what it read after the newer ones grew, wrapped into fresh columns and forked', (t) => {
  const rand = rng(7);
  const policy = makePolicy({ sampling: { intervalMs: 5000, windowMs: 60_000 }, rules: [busyRule(), rpsRule()] });
  let memory = emptyMemory();
  const kept: { memory: PoolMemory; frozen: string; at: number }[] = [];
  let at = NOW;
  for (let step = 0; step < 400; step++) {
    at += 5000;
    const guests = randomGuests(rand, at);
    memory = remember(policy, memory, { kind: 'sampled', sample: randomSample(rand, guests, at), guests }, at);
    if (step % 37 === 0) kept.push({ memory, frozen: JSON.stringify(compactWindow(memory.ticks)), at });
    // Now and then an older memory gets a different next tick (a fork), as a retried tick would.
    if (step % 53 === 0 && kept.length > 1) {
      const old = kept[Math.floor(rand() * kept.length)]!;
      const forked = remember(policy, old.memory, { kind: 'sampled', sample: randomSample(rand, guests, old.at + 1), guests }, old.at + 1);
      t.is(windowSize(forked.ticks) >= 1, true);
      t.is(forked.ticks.at[forked.ticks.end - 1], old.at + 1);
    }
  }
  t.true(kept.length >= 10);
  for (const k of kept) t.is(JSON.stringify(compactWindow(k.memory.ticks)), k.frozen);
});

test('the columns are copied out when the cut ticks exceed the slack, and the copy leaves the old columns as they were', (t) => {
  const policy = makePolicy({ sampling: { intervalMs: 5000, windowMs: 60_000 }, rules: [busyRule()] });
  const guests = [guest('web-1', 'healthy')];
  let memory = emptyMemory();
  let copies = 0;
  for (let i = 0; i < 500; i++) {
    const at = NOW + i * 5000;
    const before = memory.ticks;
    const beforeAt = [...before.at];
    memory = remember(policy, memory, { kind: 'sampled', sample: { at, guests: { 'web-1': { cpu: i } } }, guests }, at);
    if (memory.ticks.at !== before.at && before.at.length > 0) {
      copies++;
      t.deepEqual(before.at, beforeAt, `tick ${i}: the old columns changed`);
      t.is(memory.ticks.start, 0);
    }
  }
  // 12 live ticks, slack 8: a copy every 9 ticks once the window is full.
  t.is(windowSize(memory.ticks), 12);
  t.true(copies >= 500 / (slackOf(12) + 2) && copies <= 500 / slackOf(12), `${copies} copies`);
  // What the last window reads is its last 12 samples.
  t.deepEqual(
    Array.from({ length: 12 }, (_, k) => ruleValue(memory.ticks, memory.ticks.start + k, busyRule())),
    Array.from({ length: 12 }, (_, k) => 488 + k),
  );
});
