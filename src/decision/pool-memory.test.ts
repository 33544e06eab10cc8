import test from 'ava';
import type { Decision, PoolSample } from '../domain/types.ts';
import { compactWindow, windowSize } from './aggregate.ts';
import { emptyMemory, mayStartAction, remember, sampleWindowMs, tick, type PoolMemory } from './pool-memory.ts';

/** A memory's window as plain columns holding just its ticks. */
const view = (m: PoolMemory) => compactWindow(m.ticks);
import { busyRule, cpuTicks, healthy, idleRule, INTERVAL, makePolicy, NOW } from './test-helpers.ts';

const SEC = 1000;
const sample = (at: number): PoolSample => ({ at, guests: { 'web-1': { cpu: 50 } } });
const decision = (action: 'hold' | 'scale-out' | 'scale-in', at = NOW, from = 2, to = 3): Decision => {
  const common = { pool: 'web', at, from, reason: 'test', inputs: { series: {}, min: 2, max: 8, schedules: [] } };
  return action === 'hold' ? { ...common, action } : { ...common, action, to };
};
/** window 60 s at a 5 s interval, rules that look at no more than 3 ticks. */
const policy = makePolicy({ sampling: { intervalMs: INTERVAL, windowMs: 60 * SEC }, rules: [busyRule(), idleRule()] });

function sampledAt(times: number[]): PoolMemory {
  let m = emptyMemory();
  for (const at of times) m = remember(policy, m, { kind: 'sampled', sample: sample(at), guests: healthy(1) }, at);
  return m;
}

test('the window is cut by time: a tick exactly one window old is dropped, a younger one kept', (t) => {
  const m = sampledAt([NOW - 60 * SEC, NOW - 59_999, NOW - 30 * SEC, NOW]);
  t.deepEqual(view(m).at, [NOW - 59_999, NOW - 30 * SEC, NOW]);
});

test('the window is cut by time, not by count: a gap in sampling leaves fewer ticks, not older ones', (t) => {
  // 13 ticks 5 s apart, then 40 s without a tick (gridhost down), then one more.
  const times = Array.from({ length: 13 }, (_, i) => NOW - 100 * SEC + i * INTERVAL);
  const m = sampledAt([...times, NOW]);
  t.deepEqual(view(m).at.map((at) => (at - NOW) / SEC), [-55, -50, -45, -40, 0]);
});

test('the window is widened to the longest rule: for 20 at 5 s keeps 100 s even with window 60 s', (t) => {
  const p = makePolicy({ sampling: { intervalMs: INTERVAL, windowMs: 60 * SEC }, rules: [busyRule({ for: 20 })] });
  t.is(sampleWindowMs(p), 100 * SEC);
  let m = emptyMemory();
  for (let i = 0; i < 30; i++) m = remember(p, m, { kind: 'sampled', sample: sample(NOW - (29 - i) * INTERVAL), guests: healthy(1) }, NOW - (29 - i) * INTERVAL);
  t.is(windowSize(m.ticks), 20);
  t.is(sampleWindowMs(policy), 60 * SEC);
});

test('recommendations are kept while younger than the stabilization window, the horizon itself excluded', (t) => {
  const p = makePolicy({ scaleIn: { cooldownMs: 0, stabilizationMs: 120 * SEC, victims: 'newest' } });
  let m = emptyMemory();
  for (const [at, desired] of [[NOW - 120 * SEC, 6], [NOW - 119 * SEC, 5], [NOW - 60 * SEC, 4]] as const) {
    m = remember(p, m, { kind: 'decided', recommendation: { at, desired } }, at);
  }
  m = remember(p, m, { kind: 'decided', recommendation: { at: NOW, desired: 3 } }, NOW);
  t.deepEqual(m.recommendations, [{ at: NOW - 119 * SEC, desired: 5 }, { at: NOW - 60 * SEC, desired: 4 }, { at: NOW, desired: 3 }]);
  // A decision without a recommendation still moves the horizon.
  m = remember(p, m, { kind: 'decided' }, NOW + 61 * SEC);
  t.deepEqual(m.recommendations, [{ at: NOW, desired: 3 }]);
});

test('without stabilization no recommendation is remembered', (t) => {
  const p = makePolicy({ scaleIn: { cooldownMs: 0, stabilizationMs: 0, victims: 'newest' } });
  t.deepEqual(remember(p, emptyMemory(), { kind: 'decided', recommendation: { at: NOW, desired: 3 } }, NOW).recommendations, []);
});

test('a scale-out cooldown starts when its action finishes, not when it was decided or started', (t) => {
  let m = remember(policy, emptyMemory(), { kind: 'started', id: 'a', decision: decision('scale-out') }, NOW + 10);
  t.deepEqual(m.inFlight, [{ id: 'a', direction: 'scale-out', from: 2, to: 3, decidedAt: NOW, startedAt: NOW + 10 }]);
  t.is(m.lastScaleOutAt, undefined);
  m = remember(policy, m, { kind: 'finished', id: 'a', outcome: 'done' }, NOW + 35 * SEC);
  t.is(m.lastScaleOutAt, NOW + 35 * SEC);
  t.is(m.lastScaleInAt, undefined);
  t.deepEqual(m.inFlight, []);
});

test('a scale-in cooldown starts when its guests are drained and stopped', (t) => {
  let m = remember(policy, emptyMemory(), { kind: 'started', id: 'b', decision: decision('scale-in', NOW, 4, 3) }, NOW);
  m = remember(policy, m, { kind: 'finished', id: 'b', outcome: 'done' }, NOW + 12 * SEC);
  t.is(m.lastScaleInAt, NOW + 12 * SEC);
  t.is(m.lastScaleOutAt, undefined);
});

test('a failed action starts its cooldown; a skipped one (nothing done) does not', (t) => {
  const start = remember(policy, { ...emptyMemory(), lastScaleOutAt: NOW - 600 * SEC }, { kind: 'started', id: 'c', decision: decision('scale-out') }, NOW);
  t.is(remember(policy, start, { kind: 'finished', id: 'c', outcome: 'failed' }, NOW + SEC).lastScaleOutAt, NOW + SEC);
  const skipped = remember(policy, start, { kind: 'finished', id: 'c', outcome: 'skipped' }, NOW + SEC);
  t.is(skipped.lastScaleOutAt, NOW - 600 * SEC);
  t.deepEqual(skipped.inFlight, []);
});

test('finishing an action that is not in flight changes nothing (a second report of the same finish)', (t) => {
  let m = remember(policy, emptyMemory(), { kind: 'started', id: 'a', decision: decision('scale-out') }, NOW);
  m = remember(policy, m, { kind: 'finished', id: 'a', outcome: 'done' }, NOW + SEC);
  t.is(remember(policy, m, { kind: 'finished', id: 'a', outcome: 'done' }, NOW + 9 * SEC), m);
});

test('a hold is never an action in flight', (t) => {
  const m = emptyMemory();
  t.is(remember(policy, m, { kind: 'started', id: 'h', decision: decision('hold') }, NOW), m);
});

test('restored cooldowns never move a cooldown start backwards', (t) => {
  const m = remember(policy, { ...emptyMemory(), lastScaleOutAt: NOW }, { kind: 'restored', lastScaleOutAt: NOW - SEC, lastScaleInAt: NOW - 2 * SEC }, NOW);
  t.is(m.lastScaleOutAt, NOW);
  t.is(m.lastScaleInAt, NOW - 2 * SEC);
});

test('remember never changes what the memory it is given holds: an older memory reads what it read, even after two different next ticks', (t) => {
  const before = sampledAt([NOW - 10 * SEC, NOW - 5 * SEC]);
  const frozen = JSON.stringify({ ...before, ticks: view(before) });
  const a = remember(policy, before, { kind: 'sampled', sample: { at: NOW, guests: { 'web-1': { cpu: 90 } } }, guests: healthy(1) }, NOW);
  // A second, different next tick from the same memory (a fork) must not see the first one.
  const b = remember(policy, before, { kind: 'sampled', sample: { at: NOW, guests: { 'web-1': { cpu: 10 } } }, guests: healthy(1) }, NOW);
  remember(policy, before, { kind: 'started', id: 'x', decision: decision('scale-out') }, NOW);
  remember(policy, before, { kind: 'decided', recommendation: { at: NOW, desired: 3 } }, NOW);
  t.is(JSON.stringify({ ...before, ticks: view(before) }), frozen);
  t.deepEqual(view(a).metrics['cpu']!.sum, [50, 50, 90]);
  t.deepEqual(view(b).metrics['cpu']!.sum, [50, 50, 10]);
});

test('cut ticks are dropped from the columns once they outnumber the live ones, so a memory does not grow', (t) => {
  let m = emptyMemory();
  for (let i = 0; i < 1000; i++) m = remember(policy, m, { kind: 'sampled', sample: sample(NOW + i * INTERVAL), guests: healthy(1) }, NOW + i * INTERVAL);
  t.is(windowSize(m.ticks), 12); // 60 s at 5 s
  t.true(m.ticks.at.length <= 2 * 12 + 1, `${m.ticks.at.length} entries held`);
});

test('the memory is plain data: a JSON round trip decides the same', (t) => {
  const ids = healthy(3).map((g) => g.id);
  let m = emptyMemory();
  const p = makePolicy({ rules: [busyRule(), idleRule()], scaleOut: { cooldownMs: 30 * SEC, whileBooting: 'hold' } });
  const series = cpuTicks(ids, [90, 90, 90, 90], NOW);
  for (const s of series.slice(0, 3)) m = tick(p, m, healthy(3), s, s.at).memory;
  m = remember(p, m, { kind: 'started', id: 'a', decision: decision('scale-out', NOW - 20 * SEC, 3, 4) }, NOW - 20 * SEC);
  m = remember(p, m, { kind: 'finished', id: 'a', outcome: 'done' }, NOW - 10 * SEC);
  const copy = JSON.parse(JSON.stringify(m)) as PoolMemory;
  t.deepEqual(copy, m);
  const a = tick(p, m, healthy(3), series[3]!, NOW);
  const b = tick(p, copy, healthy(3), series[3]!, NOW);
  t.deepEqual(b, a);
  t.regex(a.result.decision.reason, /^cooldown: scale-out blocked for another 20s/);
});

test('tick decides from the window it has just cut, with the new sample in it', (t) => {
  const ids = healthy(3).map((g) => g.id);
  const p = makePolicy({ rules: [busyRule()], scaleOut: { cooldownMs: 0, whileBooting: 'hold' } });
  let m = emptyMemory();
  const s = cpuTicks(ids, [90, 90, 90]);
  m = tick(p, m, healthy(3), s[0]!, s[0]!.at).memory;
  const second = tick(p, m, healthy(3), s[1]!, s[1]!.at);
  t.is(second.result.decision.action, 'hold');
  const third = tick(p, second.memory, healthy(3), s[2]!, s[2]!.at);
  t.is(third.result.decision.action, 'scale-out');
  t.is(windowSize(third.memory.ticks), 3);
});

test('a sample is reduced with the guests of its tick: a guest retired later still counts in the ticks it served', (t) => {
  const p = makePolicy({ rules: [busyRule({ for: 2 })], warmupMs: 0 });
  const two = healthy(2);
  let m = remember(p, emptyMemory(), { kind: 'sampled', sample: { at: NOW - INTERVAL, guests: { 'web-1': { cpu: 20 }, 'web-2': { cpu: 60 } } }, guests: two }, NOW - INTERVAL);
  const draining = [two[0]!, { ...two[1]!, state: 'draining' as const }];
  m = remember(p, m, { kind: 'sampled', sample: { at: NOW, guests: { 'web-1': { cpu: 30 }, 'web-2': { cpu: 0 } } }, guests: draining }, NOW);
  t.deepEqual([view(m).eligible, view(m).metrics['cpu']], [[2, 1], { sum: [80, 30], max: [60, 30], count: [2, 1] }]);
});

test("a peer whose cooldown starts with the action (the Nomad Autoscaler's) starts it when the action starts", (t) => {
  const nomadLike = makePolicy({ peer: { ignoreInFlight: true, cooldownFrom: 'started' } });
  let m = remember(nomadLike, emptyMemory(), { kind: 'started', id: 'a', decision: decision('scale-out') }, NOW + 10);
  t.is(m.lastScaleOutAt, NOW + 10);
  m = remember(nomadLike, m, { kind: 'finished', id: 'a', outcome: 'done' }, NOW + 35 * SEC);
  t.is(m.lastScaleOutAt, NOW + 10);
  t.deepEqual(m.inFlight, []);
});

test('what may start beside actions in flight: alone anything; beside scale-outs only a scale-out, and only with while_booting add', (t) => {
  const out = decision('scale-out', NOW, 2, 4);
  const inn = decision('scale-in', NOW, 4, 3);
  const hold = makePolicy({ scaleOut: { cooldownMs: 0, whileBooting: 'hold' } });
  const add = makePolicy({ scaleOut: { cooldownMs: 0, whileBooting: 'add' } });
  const idle = emptyMemory();
  const scalingOut = remember(add, idle, { kind: 'started', id: 'a', decision: out }, NOW);
  const scalingIn = remember(add, idle, { kind: 'started', id: 'b', decision: inn }, NOW);
  t.true(mayStartAction(hold, idle, out));
  t.true(mayStartAction(hold, idle, inn));
  t.false(mayStartAction(hold, idle, decision('hold')));
  t.false(mayStartAction(hold, scalingOut, out));
  t.true(mayStartAction(add, scalingOut, decision('scale-out', NOW, 4, 6)));
  t.false(mayStartAction(add, scalingOut, inn));
  t.false(mayStartAction(add, scalingIn, out));
  t.true(mayStartAction(makePolicy({ peer: { ignoreInFlight: true } }), scalingIn, out));
});

test('replacements under way are remembered until they end, and start no cooldown', (t) => {
  let m = remember(policy, emptyMemory(), { kind: 'replacing', sick: 'web-1' }, NOW);
  m = remember(policy, m, { kind: 'replacing', sick: 'web-2' }, NOW + SEC);
  t.deepEqual(m.replacing, [{ sick: 'web-1', startedAt: NOW }, { sick: 'web-2', startedAt: NOW + SEC }]);
  m = remember(policy, m, { kind: 'replaced', sick: 'web-1' }, NOW + 2 * SEC);
  t.deepEqual(m.replacing.map((r) => r.sick), ['web-2']);
  t.is(m.lastScaleOutAt, undefined);
  t.deepEqual(JSON.parse(JSON.stringify(m)), m, 'plain data');
  // Every other event keeps them.
  m = remember(policy, m, { kind: 'sampled', sample: { at: NOW + 3 * SEC, guests: {} }, guests: [] }, NOW + 3 * SEC);
  m = remember(policy, m, { kind: 'decided', recommendation: { at: NOW + 3 * SEC, desired: 2 } }, NOW + 3 * SEC);
  t.deepEqual(m.replacing.map((r) => r.sick), ['web-2']);
});

test('a recommendation lower than a newer one is dropped; of equal ones the oldest stays (the one stabilization reports)', (t) => {
  const p = makePolicy({ scaleIn: { cooldownMs: 0, stabilizationMs: 120 * SEC } });
  let m = emptyMemory();
  for (const [s, desired] of [[-100, 3], [-90, 6], [-50, 5], [-40, 5], [-10, 2]] as const) {
    m = remember(p, m, { kind: 'decided', recommendation: { at: NOW + s * SEC, desired } }, NOW + s * SEC);
  }
  t.deepEqual(m.recommendations.map((r) => [(r.at - NOW) / SEC, r.desired]), [[-90, 6], [-50, 5], [-40, 5], [-10, 2]]);
  // Against every recommendation of a long random run, the window's first is the oldest of the highest.
  let x = 7;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const all: { at: number; desired: number }[] = [];
  m = emptyMemory();
  let longest = 0;
  for (let i = 0; i < 500; i++) {
    const at = NOW + i * INTERVAL;
    const r = { at, desired: 1 + Math.floor(rand() * 8) };
    all.push(r);
    m = remember(p, m, { kind: 'decided', recommendation: r }, at);
    const inHorizon = all.filter((a) => at - a.at < 120 * SEC);
    const top = Math.max(...inHorizon.map((a) => a.desired));
    const oldestTop = inHorizon.find((a) => a.desired === top)!;
    if (m.recommendations[0]!.desired !== top || m.recommendations[0]!.at !== oldestTop.at) return t.fail(`tick ${i}: ${JSON.stringify(m.recommendations[0])} != ${JSON.stringify(oldestTop)}`);
    longest = Math.max(longest, m.recommendations.length);
  }
  // Far fewer than the horizon's recommendations are remembered.
  t.true(longest < (120 * SEC) / INTERVAL / 2, `longest ${longest}`);
});
