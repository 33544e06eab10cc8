import test from 'ava';
import { FakeBalancer } from '../../../src/drivers/balancer/fake-balancer.ts';
import { waitDrained, type WaitClock } from '../../../src/drivers/balancer/wait-drained.ts';
import { GridhostError } from '../../../src/errors/errors.ts';

/** A virtual clock: sleep() advances time instantly, so deadlines are exact. */
function virtualClock(): WaitClock & { slept: number[] } {
  let now = 1000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

async function poolWith(active: number[]): Promise<FakeBalancer> {
  const lb = new FakeBalancer();
  await lb.ensurePool('web', '127.0.0.1:8080', '/healthz');
  await lb.add('web', 'a', '127.0.0.1:1');
  lb.scriptActive('web', 'a', active);
  return lb;
}

test('waitDrained resolves drained once active reaches 0, polling every pollMs', async (t) => {
  const lb = await poolWith([3, 2, 0]);
  const clock = virtualClock();
  t.deepEqual(await waitDrained(lb, 'web', 'a', 10_000, 250, clock), { drained: true, active: 0 });
  t.deepEqual(clock.slept, [250, 250]);
});

test('waitDrained gives up at the deadline and reports what is still in flight', async (t) => {
  const lb = await poolWith([4]);
  const clock = virtualClock();
  t.deepEqual(await waitDrained(lb, 'web', 'a', 1000, 300, clock), { drained: false, active: 4 });
  t.deepEqual(clock.slept, [300, 300, 300, 100], 'the last sleep stops at the deadline');
});

test('a backend that is not registered counts as drained', async (t) => {
  const lb = await poolWith([5]);
  await lb.remove('web', 'a');
  t.deepEqual(await waitDrained(lb, 'web', 'a', 1000, 100, virtualClock()), { drained: true, active: 0 });
});

test('waitDrained rejects with the balancer error when list() fails', async (t) => {
  const lb = await poolWith([5]);
  lb.inject('list');
  const err = await t.throwsAsync(waitDrained(lb, 'web', 'a', 1000, 100, virtualClock()));
  t.is((err as GridhostError).code, 'GH_BALANCER_FAILED');
});
