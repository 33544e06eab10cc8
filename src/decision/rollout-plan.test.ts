import test from 'ava';
import { DEFAULT_ROLLOUT, type RolloutSettings } from '../domain/policy.ts';
import type { Guest, GuestState } from '../domain/types.ts';
import { digestKey, outdatedGuests, outdatedWarm, planBatch, retireAfterCount, type BatchFacts, type SourceDigest } from './rollout-plan.ts';

const NEW: SourceDigest = { template: 't2', image: 'i1' };
const OLD: SourceDigest = { template: 't1', image: 'i1' };
const g = (id: string, state: GuestState, createdAt: number, made: SourceDigest | undefined = OLD, host = 'localhost'): Guest => ({
  id, pool: 'web', state, driver: 'local', host, createdAt, updatedAt: createdAt,
  meta: made ? { templateDigest: made.template, imageDigest: made.image } : {},
});
const ids = (gs: readonly Guest[]) => gs.map((x) => x.id);
const current = new Map([['localhost', NEW]]);
const facts = (guests: Guest[], o: Omit<Partial<BatchFacts>, 'settings'> & { settings?: Partial<RolloutSettings> } = {}): BatchFacts => ({
  guests, outdated: new Set(ids(outdatedGuests(guests, current))), max: 8, now: 1000, ...o, settings: { ...DEFAULT_ROLLOUT, ...o.settings },
});

test('a guest whose template or base image digest differs from the current one is outdated', (t) => {
  const guests = [g('a', 'healthy', 1, OLD), g('b', 'healthy', 2, NEW), g('c', 'healthy', 3, { template: 't2', image: 'i0' })];
  t.deepEqual(ids(outdatedGuests(guests, current)), ['a', 'c']);
});

test('warm guests are not outdated guests of a rollout (they do not count); the warm pool asks for its own', (t) => {
  const guests = [g('w-old', 'warm', 1, OLD), g('w-new', 'warm', 2, NEW), g('h-old', 'healthy', 3, OLD), g('m', 'warming', 4, OLD)];
  t.deepEqual(ids(outdatedGuests(guests, current)), ['h-old']);
  t.deepEqual(ids(outdatedWarm(guests, current)), ['w-old']);
});

test('a guest that recorded no digests is outdated', (t) => {
  t.deepEqual(ids(outdatedGuests([g('a', 'healthy', 1, undefined)], current)), ['a']);
});

test('a guest on a host whose current digests are unknown is not outdated', (t) => {
  const guests = [g('a', 'healthy', 1, OLD, 'dom0-a'), g('b', 'healthy', 1, OLD, 'dom0-b')];
  t.deepEqual(ids(outdatedGuests(guests, new Map([['dom0-a', NEW], ['dom0-b', undefined]]))), ['a']);
});

test('each host is compared with its own current base image', (t) => {
  const guests = [g('a', 'healthy', 1, { template: 't', image: 'x' }, 'dom0-a'), g('b', 'healthy', 1, { template: 't', image: 'x' }, 'dom0-b')];
  t.deepEqual(ids(outdatedGuests(guests, new Map([['dom0-a', { template: 't', image: 'x' }], ['dom0-b', { template: 't', image: 'y' }]]))), ['b']);
});

test('guests gone, failed or sick are not counted as outdated', (t) => {
  t.deepEqual(ids(outdatedGuests([g('a', 'gone', 1), g('b', 'failed', 1), g('c', 'sick', 1)], current)), []);
});

test('the digest key is the same whatever order the hosts come in, and leaves unknown hosts out', (t) => {
  const a = digestKey(new Map<string, SourceDigest | undefined>([['b', NEW], ['a', OLD], ['c', undefined]]));
  t.is(a, digestKey(new Map([['a', OLD], ['b', NEW]])));
  t.not(a, digestKey(new Map([['a', NEW], ['b', NEW]])));
});

test('with no outdated guest the rollout is done', (t) => {
  t.deepEqual(planBatch(facts([g('a', 'healthy', 1, NEW), g('b', 'healthy', 2, NEW)])), { kind: 'done' });
});

test('by default a batch launches one new guest and then retires the oldest outdated one: the size never drops', (t) => {
  const p = planBatch(facts([g('b', 'healthy', 2), g('a', 'healthy', 1), g('c', 'healthy', 3)]));
  if (p.kind !== 'batch') return t.fail(`expected a batch, got ${JSON.stringify(p)}`);
  t.is(p.launch, 1);
  t.deepEqual(ids(p.retireFirst), []);
  t.deepEqual(ids(p.retireAfter), ['a']);
});

test('max_surge launches that many at once, never past max', (t) => {
  const four = [g('a', 'healthy', 1), g('b', 'healthy', 2), g('c', 'healthy', 3), g('d', 'healthy', 4)];
  const p = planBatch(facts(four, { settings: { maxSurge: 3 } }));
  t.like(p, { kind: 'batch', launch: 3 });
  const capped = planBatch(facts(four, { settings: { maxSurge: 3 }, max: 6 }));
  t.like(capped, { kind: 'batch', launch: 2 });
  if (capped.kind === 'batch') t.deepEqual(ids(capped.retireAfter), ['a', 'b']);
});

test('a batch launches no more than there are outdated guests', (t) => {
  const p = planBatch(facts([g('a', 'healthy', 1), g('b', 'healthy', 2, NEW)], { settings: { maxSurge: 4 } }));
  t.like(p, { kind: 'batch', launch: 1 });
});

test('a pool at its max waits (surge would exceed max) unless max_unavailable lets old guests go first', (t) => {
  const full = [g('a', 'healthy', 1), g('b', 'healthy', 2)];
  const p = planBatch(facts(full, { max: 2 }));
  t.is(p.kind, 'wait');
  if (p.kind === 'wait') t.regex(p.why, /at its max \(2\)/);
  const u = planBatch(facts(full, { max: 2, settings: { maxUnavailable: 1 } }));
  if (u.kind !== 'batch') return t.fail(`expected a batch, got ${JSON.stringify(u)}`);
  t.is(u.launch, 1);
  t.deepEqual(ids(u.retireFirst), ['a']);
  t.deepEqual(ids(u.retireAfter), []);
});

test('max_unavailable and max_surge add up: the unavailable ones go first, the rest once their replacements serve', (t) => {
  const p = planBatch(facts([g('a', 'healthy', 1), g('b', 'healthy', 2), g('c', 'healthy', 3), g('d', 'healthy', 4)], { settings: { maxSurge: 1, maxUnavailable: 1 } }));
  if (p.kind !== 'batch') return t.fail(`expected a batch, got ${JSON.stringify(p)}`);
  t.is(p.launch, 2);
  t.deepEqual(ids(p.retireFirst), ['a']);
  t.deepEqual(ids(p.retireAfter), ['b']);
  t.is(retireAfterCount(p, 2), 1, 'both new guests serve: one more old one goes');
  t.is(retireAfterCount(p, 1), 0, 'one failed: the one that serves replaces the one retired first');
  t.is(retireAfterCount(p, 0), 0);
});

test('an old guest is retired only for a new one that serves', (t) => {
  const p = planBatch(facts([g('a', 'healthy', 1), g('b', 'healthy', 2), g('c', 'healthy', 3)], { settings: { maxSurge: 2 } }));
  if (p.kind !== 'batch') return t.fail(`expected a batch, got ${JSON.stringify(p)}`);
  t.is(retireAfterCount(p, 2), 2);
  t.is(retireAfterCount(p, 1), 1);
  t.is(retireAfterCount(p, 0), 0);
});

test('no batch starts while a guest is on its way up or down, or a sick one waits for auto-heal', (t) => {
  for (const s of ['cloning', 'booting', 'draining', 'stopping', 'sick'] as GuestState[]) {
    const p = planBatch(facts([g('a', 'healthy', 1), g('x', s, 5, NEW)]));
    t.is(p.kind, 'wait', s);
  }
});

test('rollout.pause holds the next batch until its time', (t) => {
  const guests = [g('a', 'healthy', 1)];
  const p = planBatch(facts(guests, { nextBatchAt: 6000, now: 1000 }));
  t.deepEqual(p, { kind: 'wait', why: 'rollout.pause: next batch in 5s' });
  t.is(planBatch(facts(guests, { nextBatchAt: 6000, now: 6000 })).kind, 'batch');
});
