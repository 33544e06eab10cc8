// The lifecycle's reports against fakes: exactly one transition per state the store records
// (never "booting -> booting"), in the store's order, with the time spent in the state left;
// the steps inside a state as detail; a failed step reported as such.
import test from 'ava';
import type { Guest, GuestState } from '../domain/types.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import { GridhostError } from '../errors/errors.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';

function rig() {
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  const telemetry = new RecordingTelemetry();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => clock.advance(700), pollMs: 10 });
  const policy = makePolicy({});
  return { clock, store, hv, balancer, telemetry, lifecycle, policy };
}

/** The states the store recorded for a guest, consecutive repeats (meta updates) collapsed. */
function storedStates(store: MemoryStore, id: string): GuestState[] {
  const out: GuestState[] = [];
  for (const c of store.calls) {
    const g = c.args[0] as Guest;
    if (c.method !== 'saveGuest' || g.id !== id) continue;
    if (out[out.length - 1] !== g.state) out.push(g.state);
  }
  return out;
}

const transitions = (t: RecordingTelemetry, id: string) => t.guestSteps.filter((s) => s.guest === id && s.from !== undefined);
const details = (t: RecordingTelemetry, id: string) => t.guestSteps.filter((s) => s.guest === id && s.state !== undefined);

test('a launch and a retire report one transition per state the store records, and no state moving to itself', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-a');
  await r.clock.advance(5000);
  await r.lifecycle.retire(guest, r.policy, 'scale-in 3 -> 2: quiet');
  const moves = transitions(r.telemetry, 'web-a');
  t.deepEqual(moves.map((m) => `${m.action} ${m.from} -> ${m.to}`), [
    'launch none -> cloning', 'clone cloning -> booting', 'register booting -> healthy',
    'retire healthy -> draining', 'drain draining -> stopping', 'retired stopping -> gone',
  ]);
  const states = storedStates(r.store, 'web-a');
  t.deepEqual(states, ['cloning', 'booting', 'healthy', 'draining', 'stopping', 'gone']);
  t.deepEqual(moves.map((m) => m.to), states, 'each state written is reported once, in order');
  t.false(moves.some((m) => m.from === m.to));
  // Time in the state left, and what its steps took.
  t.like(moves[2], { durationMs: 700, stepsMs: { boot: 0, health: 700, register: 0 } });
  t.like(moves[3], { durationMs: 5000, reason: 'scale-in 3 -> 2: quiet' });
  t.deepEqual(Object.keys(moves[5]!.stepsMs ?? {}), ['deregister', 'stop', 'delete-clone']);
  t.deepEqual(details(r.telemetry, 'web-a').map((s) => `${s.action} (${s.state})`), ['boot (booting)', 'health (booting)', 'deregister (stopping)', 'stop (stopping)', 'delete-clone (stopping)']);
});

test('a failed launch reports the failed step, then the cleanup as transitions to stopping and failed', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  r.hv.failNext('boot', new GridhostError('GH_BOOT_FAILED', 'xl create: out of memory'));
  await t.throwsAsync(r.lifecycle.launch(r.policy, 'web-b'), { code: 'GH_BOOT_FAILED' } as never);
  const moves = transitions(r.telemetry, 'web-b');
  t.deepEqual(moves.map((m) => `${m.action} ${m.from} -> ${m.to}`), ['launch none -> cloning', 'clone cloning -> booting', 'cleanup booting -> stopping', 'cleaned-up stopping -> failed']);
  t.deepEqual(moves.map((m) => m.to), storedStates(r.store, 'web-b'));
  t.regex(moves[2]!.reason ?? '', /^launch failed: xl create: out of memory/);
  const failed = details(r.telemetry, 'web-b').filter((s) => s.error);
  t.deepEqual(failed.map((s) => [s.action, s.state, s.error?.code]), [['boot', 'booting', 'GH_BOOT_FAILED']]);
});

test('a cleanup that failed and is tried again does not report entering stopping a second time', async (t) => {
  const r = rig();
  await r.balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const { guest } = await r.lifecycle.launch(r.policy, 'web-c');
  r.hv.failNext('stop', new GridhostError('GH_STOP_FAILED', 'toolstack busy'));
  await t.throwsAsync(r.lifecycle.retire(guest, r.policy, 'quiet'));
  const stuck = (await r.store.getGuest('web-c'))!;
  t.is(stuck.state, 'stopping');
  await r.lifecycle.finish(stuck, r.policy, 'retried', 'gone');
  const moves = transitions(r.telemetry, 'web-c').slice(3);
  t.deepEqual(moves.map((m) => `${m.action} ${m.from} -> ${m.to}`), ['retire healthy -> draining', 'drain draining -> stopping', 'retired stopping -> gone']);
  t.deepEqual(details(r.telemetry, 'web-c').filter((s) => s.error).map((s) => s.action), ['stop']);
});
