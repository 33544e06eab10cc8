// Lifecycle hooks in the guest lifecycle (fakes, manual clock): where each hook runs, what
// on_failure does, and that every run lands in the guest's history with outcome and duration.
import test from 'ava';
import type { Hook, Policy } from '../domain/policy.ts';
import { makePolicy } from '../decision/test-helpers.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeHypervisor } from '../drivers/hypervisor/fake-hypervisor.ts';
import { FakeBalancer } from '../drivers/balancer/fake-balancer.ts';
import { FakeHookRunner } from '../drivers/hooks/fake-hook-runner.ts';
import { GridhostError } from '../errors/errors.ts';
import { ManualClock } from './clock.ts';
import { RecordingTelemetry } from './telemetry.ts';
import { GuestLifecycle } from './guest-lifecycle.ts';

const hook = (onFailure: 'abandon' | 'continue' = 'abandon'): Hook => ({ kind: 'command', command: ['/usr/local/bin/h', '{{guest}}'], timeoutMs: 1000, onFailure });

async function rig(hooks: Policy['hooks']) {
  const policy = makePolicy({ hooks, guest: { ...makePolicy().guest, drainTimeoutMs: 1000 } });
  const clock = new ManualClock(1_000_000);
  const store = new MemoryStore();
  const hv = new FakeHypervisor();
  const balancer = new FakeBalancer();
  await balancer.ensurePool('web', '127.0.0.1:0', '/healthz');
  const telemetry = new RecordingTelemetry();
  const runner = new FakeHookRunner();
  const lifecycle = new GuestLifecycle({ store, balancer, clock, telemetry, hypervisorFor: () => hv, waitHealthy: async () => undefined, hooks: runner, pollMs: 1 });
  return { policy, clock, store, hv, balancer, telemetry, runner, lifecycle };
}

test('before_register runs after the guest is healthy and before it is added to the balancer, with its id, pool and address', async (t) => {
  const r = await rig({ before_register: hook() });
  const { guest } = await r.lifecycle.launch(r.policy, 'web-aaaa0001');
  t.is(r.runner.calls.length, 1);
  t.deepEqual(r.runner.calls[0]!.ctx, { hook: 'before_register', guest: 'web-aaaa0001', pool: 'web', address: guest.address, host: guest.host });
  t.truthy(guest.address);
  const history = (await r.store.getGuest('web-aaaa0001'))!.history!;
  const actions = history.map((e) => e.action);
  t.deepEqual(actions, ['clone', 'boot', 'health', 'before_register', 'register']);
  t.like(history[3], { action: 'before_register', outcome: 'ok', durationMs: 5, detail: 'command: exit 0' });
  t.like(r.telemetry.hooks[0], { hook: 'before_register', outcome: 'ok', state: 'booting', durationMs: 5 });
});

test('a failed before_register with on_failure abandon fails the launch: the guest is never registered, it is cleaned up and its history says why', async (t) => {
  const r = await rig({ before_register: hook('abandon') });
  r.runner.results.before_register = { ok: false, detail: 'exit 3: cache refused' };
  const e = await t.throwsAsync(r.lifecycle.launch(r.policy, 'web-aaaa0002'));
  t.is((e as GridhostError).code, 'GH_HOOK_FAILED');
  t.is(r.balancer.callsOf('add').length, 0, 'never added to the balancer');
  const g = (await r.store.getGuest('web-aaaa0002'))!;
  t.is(g.state, 'failed');
  t.false(r.hv.guests.get('web-aaaa0002')?.running ?? false);
  t.like(g.history!.find((x) => x.action === 'before_register'), { outcome: 'abandoned', detail: 'command: exit 3: cache refused', code: 'GH_HOOK_FAILED' });
  t.like(r.telemetry.hooks[0], { outcome: 'abandoned' });
});

test('a failed before_register with on_failure continue registers the guest anyway, recorded as continued', async (t) => {
  const r = await rig({ before_register: hook('continue') });
  r.runner.results.before_register = { ok: false, timedOut: true, detail: 'timed out after 1000 ms (killed)' };
  const { guest } = await r.lifecycle.launch(r.policy, 'web-aaaa0003');
  t.is(guest.state, 'healthy');
  t.is(r.balancer.callsOf('add').length, 1);
  t.like(guest.history!.find((x) => x.action === 'before_register'), { outcome: 'continued', detail: 'command: timed out after 1000 ms (killed)' });
});

test('before_retire runs before the drain begins; the guest is then drained, stopped and gone, its history complete', async (t) => {
  const r = await rig({ before_retire: hook() });
  const { guest } = await r.lifecycle.launch(r.policy, 'web-aaaa0004');
  t.is(r.runner.calls.length, 0, 'no before_register hook, none run');
  await r.lifecycle.retire(guest, r.policy, 'scale-in');
  t.is(r.runner.calls.length, 1);
  t.like(r.runner.calls[0]!.ctx, { hook: 'before_retire', guest: 'web-aaaa0004' });
  const g = (await r.store.getGuest('web-aaaa0004'))!;
  t.is(g.state, 'gone');
  t.deepEqual(g.history!.map((e) => e.action), ['clone', 'boot', 'health', 'register', 'before_retire', 'drain', 'deregister', 'stop', 'delete-clone', 'retired']);
  t.like(r.telemetry.hooks[0], { hook: 'before_retire', state: 'draining', outcome: 'ok' });
});

test('a failed before_retire with on_failure abandon keeps the guest in service: back to healthy, never drained or stopped', async (t) => {
  const r = await rig({ before_retire: hook('abandon') });
  const { guest } = await r.lifecycle.launch(r.policy, 'web-aaaa0005');
  r.runner.results.before_retire = { ok: false, detail: 'HTTP 503' };
  const e = await t.throwsAsync(r.lifecycle.retire(guest, r.policy, 'scale-in'));
  t.is((e as GridhostError).code, 'GH_HOOK_FAILED');
  const g = (await r.store.getGuest('web-aaaa0005'))!;
  t.is(g.state, 'healthy');
  t.is(r.balancer.callsOf('setDrain').length, 0);
  t.true(r.hv.guests.get('web-aaaa0005')?.running ?? false);
  t.like(g.history!.at(-1), { action: 'before_retire', outcome: 'abandoned', detail: 'command: HTTP 503' });
});

test('a failed before_retire with on_failure continue retires the guest anyway', async (t) => {
  const r = await rig({ before_retire: hook('continue') });
  const { guest } = await r.lifecycle.launch(r.policy, 'web-aaaa0006');
  r.runner.results.before_retire = { ok: false, detail: 'exit 1' };
  await r.lifecycle.retire(guest, r.policy, 'scale-in');
  const g = (await r.store.getGuest('web-aaaa0006'))!;
  t.is(g.state, 'gone');
  t.like(g.history!.find((x) => x.action === 'before_retire'), { outcome: 'continued' });
});
