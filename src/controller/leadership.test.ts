// Leader leases on one store shared by several "processes" (Leadership instances), on a manual
// clock: one holder per pool at a time, tokens that only increase, pools spread and moved.
import test from 'ava';
import { MemoryStore } from '../store/memory-store.ts';
import { GridhostError } from '../errors/errors.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { Leadership, ownerOf } from './leadership.ts';
import type { ActingFence } from './acting-fence.ts';

const POOLS = ['web', 'api', 'shop', 'blog', 'mail', 'wiki'];
const LEASE = 9000;

function cluster() {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  const fences = new Map<string, Map<string, ActingFence>>();
  const make = (holder: string, pools: () => readonly string[] = () => POOLS) => {
    const mine = new Map<string, ActingFence>();
    fences.set(holder, mine);
    const l = new Leadership({
      store, clock, telemetry: new RecordingTelemetry(), holder, leaseMs: LEASE, pools,
      onAcquire: async (pool, fence) => { mine.set(pool, fence); },
      onLose: async (pool) => { mine.delete(pool); },
    });
    return l;
  };
  return { clock, store, fences, make };
}

test('rendezvous ownership is the same for every caller and moves only the pools of a member that leaves', (t) => {
  const three = ['a', 'b', 'c'];
  const owners = POOLS.map((p) => ownerOf(p, three));
  t.deepEqual(POOLS.map((p) => ownerOf(p, [...three].reverse())), owners);
  const withoutC = POOLS.map((p) => ownerOf(p, ['a', 'b']));
  for (const [i, o] of owners.entries()) if (o !== 'c') t.is(withoutC[i], o, POOLS[i]);
  t.is(ownerOf('web', []), undefined);
});

test('two processes spread the pools and each pool has exactly one leader', async (t) => {
  const c = cluster();
  const a = c.make('proc-a');
  const b = c.make('proc-b');
  // Both announce themselves, then both take what they own.
  await a.runOnce();
  await b.runOnce();
  await c.clock.advance(LEASE + 1);
  for (let i = 0; i < 3; i++) {
    await a.runOnce();
    await b.runOnce();
  }
  const la = a.ledPools();
  const lb = b.ledPools();
  t.deepEqual([...la, ...lb].sort(), [...POOLS].sort());
  t.deepEqual(la.filter((p) => lb.includes(p)), []);
  t.true(la.length > 0 && lb.length > 0, `spread: a ${la.join(',')} b ${lb.join(',')}`);
  for (const p of POOLS) t.is(ownerOf(p, ['proc-a', 'proc-b']), la.includes(p) ? 'proc-a' : 'proc-b');
});

test('when a leader dies, another takes its pools after the lease with a higher token, and the dead one\'s fences are refused', async (t) => {
  const c = cluster();
  const a = c.make('proc-a');
  await a.runOnce();
  t.deepEqual(a.ledPools(), [...POOLS].sort());
  const oldFence = c.fences.get('proc-a')!.get('web')!;
  const b = c.make('proc-b');
  await b.runOnce();
  t.deepEqual(b.ledPools(), [], 'a live lease is never taken');
  // proc-a dies: it renews no more. Its member record and leases run out.
  await c.clock.advance(LEASE);
  await b.runOnce();
  await b.runOnce();
  t.deepEqual(b.ledPools(), [...POOLS].sort());
  const newFence = c.fences.get('proc-b')!.get('web')!;
  t.true(newFence.token > oldFence.token);
  t.throws(() => oldFence.check(), { code: 'GH_LEASE_LOST' } as never);
  const e = await t.throwsAsync(c.store.appendEvent({ pool: 'web', at: 1, direction: 'scale-out', from: 2, to: 3, reason: 'x', inputs: { series: {}, min: 2, max: 8, schedules: [] }, outcome: 'started' }, oldFence));
  t.is((e as GridhostError).code, 'GH_FENCED');
  const history = (await c.store.listHistory({ pool: 'web' })).reverse();
  t.deepEqual(history.map((h) => [h.holder, h.token]), [['proc-a', 1], ['proc-b', 2]]);
});

test('a holder that cannot renew stops acting before its lease can expire', async (t) => {
  const c = cluster();
  const a = c.make('proc-a');
  await a.runOnce();
  const fence = c.fences.get('proc-a')!.get('web')!;
  const lease = (await c.store.getLease('web'))!;
  // The store stops answering: renewals fail.
  for (let i = 0; i < 100; i++) c.store.failNext('heartbeat');
  let stoppedAt: number | undefined;
  for (let ms = 0; ms <= LEASE; ms += 500) {
    await a.runOnce();
    try {
      fence.check();
    } catch {
      stoppedAt ??= c.clock.now();
    }
    await c.clock.advance(500);
  }
  t.not(stoppedAt, undefined);
  t.true(stoppedAt! < lease.expiresAt, `stopped at ${stoppedAt}, lease ran to ${lease.expiresAt}`);
  t.false(a.leads('web'));
  t.regex(a.storeError() ?? 'reachable', /./);
});

test('a joining process is handed the pools it owns; the giver releases them first', async (t) => {
  const c = cluster();
  const a = c.make('proc-a');
  await a.runOnce();
  t.is(a.ledPools().length, POOLS.length);
  const b = c.make('proc-b');
  await b.runOnce(); // announces itself
  await a.runOnce(); // sees b: releases what b owns
  await b.runOnce(); // takes it
  const owned = POOLS.filter((p) => ownerOf(p, ['proc-a', 'proc-b']) === 'proc-b').sort();
  t.deepEqual(b.ledPools(), owned);
  t.deepEqual(a.ledPools(), POOLS.filter((p) => !owned.includes(p)).sort());
  for (const p of owned) {
    const kinds = (await c.store.listHistory({ pool: p })).reverse().map((h) => `${h.kind}:${h.holder}:${h.token}`);
    t.deepEqual(kinds, [`lease-acquired:proc-a:1`, `lease-released:proc-a:1`, `lease-acquired:proc-b:2`]);
  }
});

test('a pool goes only to processes that have its policy', async (t) => {
  const c = cluster();
  const a = c.make('proc-a', () => POOLS);
  const b = c.make('proc-b', () => ['web']);
  for (let i = 0; i < 3; i++) {
    await a.runOnce();
    await b.runOnce();
  }
  const webOwner = ownerOf('web', ['proc-a', 'proc-b']);
  t.deepEqual(a.ledPools(), POOLS.filter((p) => p !== 'web' || webOwner === 'proc-a').sort());
  t.deepEqual(b.ledPools(), webOwner === 'proc-b' ? ['web'] : []);
  for (let ms = 0; ms <= LEASE * 2; ms += 1000) {
    await c.clock.advance(1000);
    await b.runOnce();
    await a.runOnce();
  }
  t.is(a.ledPools().length + b.ledPools().length, POOLS.length, 'no pool handed back and forth');
  t.deepEqual((await c.store.listHistory({ pool: 'api' })).map((h) => h.kind), ['lease-acquired']);
});

test('a pool whose start outlasts the lease (a long take-over reconcile) keeps its lease, and the rounds go on meanwhile', async (t) => {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  let fence: ActingFence | undefined;
  let finish!: () => void;
  const slow = new Promise<void>((r) => { finish = r; });
  const started: string[] = [];
  const a = new Leadership({
    store, clock, telemetry: new RecordingTelemetry(), holder: 'proc-a', leaseMs: LEASE, pools: () => ['web', 'api'],
    onAcquire: async (pool, f) => {
      started.push(pool);
      if (pool === 'web') {
        fence = f;
        await slow;
      }
    },
    onLose: async () => undefined,
  });
  const first = a.start();
  await clock.advance(0);
  await new Promise((r) => setImmediate(r));
  t.deepEqual([...started].sort(), ['api', 'web'], 'the slow start of web does not hold up api');
  // Three lease times pass while web is still starting.
  for (let i = 0; i < 9; i++) {
    await clock.advance(LEASE / 3);
    await new Promise((r) => setImmediate(r));
  }
  t.notThrows(() => fence!.check(), 'web may still act: its lease was renewed while it started');
  t.true(a.leads('api'), 'api was renewed by the rounds meanwhile');
  t.is((await store.getLease('web'))?.holder, 'proc-a');
  t.is((await store.listMembers()).length, 1, 'the heartbeat went on');
  // Another process cannot take it.
  const b = new Leadership({ store, clock, telemetry: new RecordingTelemetry(), holder: 'proc-b', leaseMs: LEASE, pools: () => [], onAcquire: async () => undefined, onLose: async () => undefined });
  await b.runOnce();
  t.is((await store.getLease('web'))?.token, fence!.token);
  finish();
  await first;
  t.deepEqual(a.ledPools(), ['api', 'web']);
  await a.stop();
});

test('a handover lets the action in flight finish under the lease: the fence holds and the lease is renewed until the loop has stopped, then it is released', async (t) => {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore(() => clock.now());
  const fences = new Map<string, ActingFence>();
  let finishAction!: () => void;
  const actionDone = new Promise<void>((r) => (finishAction = r));
  const stopping: string[] = [];
  const a = new Leadership({
    store, clock, telemetry: new RecordingTelemetry(), holder: 'proc-a', leaseMs: LEASE, pools: () => POOLS,
    onAcquire: async (pool, fence) => { fences.set(pool, fence); },
    // The pool's loop stops only once its action in flight (a launch) has finished.
    onLose: async (pool) => { stopping.push(pool); await actionDone; },
  });
  const bFences = new Map<string, ActingFence>();
  const b = new Leadership({
    store, clock, telemetry: new RecordingTelemetry(), holder: 'proc-b', leaseMs: LEASE, pools: () => POOLS,
    onAcquire: async (pool, fence) => { bFences.set(pool, fence); },
    onLose: async (pool) => { bFences.delete(pool); },
  });
  await a.runOnce();
  await b.runOnce(); // announces itself
  await a.runOnce(); // sees b: starts handing over what b owns
  const owned = POOLS.filter((p) => ownerOf(p, ['proc-a', 'proc-b']) === 'proc-b').sort();
  t.true(owned.length > 0);
  t.deepEqual([...stopping].sort(), owned);
  // Longer than a lease: the launch still runs, its fence holds, the lease is renewed, b waits.
  for (let ms = 0; ms <= LEASE * 2; ms += 1000) {
    await clock.advance(1000);
    await a.runOnce();
    await b.runOnce();
    for (const p of owned) t.notThrows(() => fences.get(p)!.check(), `${p}: the launch under way may finish`);
  }
  t.deepEqual(b.ledPools(), []);
  t.deepEqual(a.ledPools(), [...POOLS].sort());
  finishAction();
  await new Promise((r) => setImmediate(r));
  for (const p of owned) t.throws(() => fences.get(p)!.check(), { code: 'GH_LEASE_LOST' } as never);
  await b.runOnce();
  t.deepEqual(b.ledPools(), owned);
  for (const p of owned) {
    const kinds = (await store.listHistory({ pool: p })).reverse().map((h) => `${h.kind}:${h.holder}:${h.token}`);
    t.deepEqual(kinds, ['lease-acquired:proc-a:1', 'lease-released:proc-a:1', 'lease-acquired:proc-b:2']);
  }
});
