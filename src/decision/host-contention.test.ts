// Contention-aware scale-out (policy contention): a scale-out the rules want holds when every
// host's domains use up its CPUs; the host facts come in the tick's sample.
import test from 'ava';
import type { Policy } from '../domain/policy.ts';
import type { HostSample } from '../domain/types.ts';
import { decide } from './decide.ts';
import { hostContention } from './host-contention.ts';
import { emptyMemory, tick } from './pool-memory.ts';
import { busyRule, cpuTicks, healthy, makePolicy, makeView, NOW } from './test-helpers.ts';

const policy = (overrides: Partial<Policy> = {}) => makePolicy({ rules: [busyRule()], scaleOut: { cooldownMs: 0, whileBooting: 'hold' }, contention: { saturatedAt: 0.9 }, ...overrides });
const hot = (hosts: HostSample[], n = 3) => makeView({ guests: healthy(n), samples: cpuTicks(healthy(n).map((g) => g.id), [95, 95, 95]), hosts });

test('every host saturated: the scale-out holds as hosts-saturated with each host\'s CPU use', (t) => {
  const r = decide(policy(), hot([{ host: 'dom0-a', cpuRatio: 0.97 }, { host: 'dom0-b', cpuRatio: 0.92 }]), NOW);
  t.is(r.decision.action, 'hold');
  t.deepEqual(r.hold, { cause: 'hosts-saturated', hosts: [{ host: 'dom0-a', cpuRatio: 0.97 }, { host: 'dom0-b', cpuRatio: 0.92 }], threshold: 0.9, wanted: 4 });
  t.regex(r.decision.reason, /^blocked: hosts saturated \(dom0-a 97%, dom0-b 92% CPU, saturated from 90%\): a new guest would get no CPU \(wanted 3 -> 4: /);
});

test('one host below the threshold is room: the scale-out goes ahead (placement takes that host)', (t) => {
  const r = decide(policy(), hot([{ host: 'dom0-a', cpuRatio: 0.97 }, { host: 'dom0-b', cpuRatio: 0.5 }]), NOW);
  t.is(r.decision.action, 'scale-out');
});

test('a host whose CPU could not be measured is not taken for saturated', (t) => {
  const r = decide(policy(), hot([{ host: 'dom0-a', cpuRatio: 0.97 }, { host: 'dom0-b' }]), NOW);
  t.is(r.decision.action, 'scale-out');
});

test('without policy contention saturated hosts change nothing', (t) => {
  const r = decide(policy({ contention: undefined }), hot([{ host: 'dom0-a', cpuRatio: 1 }]), NOW);
  t.is(r.decision.action, 'scale-out');
});

test('without host facts (a driver that cannot tell) nothing is held', (t) => {
  t.is(decide(policy(), hot([]), NOW).decision.action, 'scale-out');
  t.is(hostContention(policy(), undefined), undefined);
});

test('saturated hosts never hold a launch back to min (bounds go ahead)', (t) => {
  const r = decide(policy({ min: 3 }), makeView({ guests: healthy(1), hosts: [{ host: 'dom0-a', cpuRatio: 1 }] }), NOW);
  t.is(r.decision.action, 'scale-out');
});

test('saturated hosts never hold a scale-in', (t) => {
  const p = makePolicy({ rules: [busyRule({ above: undefined, below: 15, step: { kind: 'count', value: -1 } })], scaleIn: { cooldownMs: 0, stabilizationMs: 0 }, contention: { saturatedAt: 0.9 } });
  const r = decide(p, makeView({ guests: healthy(4), samples: cpuTicks(healthy(4).map((g) => g.id), [5, 5, 5]), hosts: [{ host: 'dom0-a', cpuRatio: 1 }] }), NOW);
  t.is(r.decision.action, 'scale-in');
});

test('the loop\'s and the simulator\'s tick() take the host facts from the sample itself', (t) => {
  const p = policy({ rules: [busyRule({ for: 1 })] });
  const guests = healthy(3);
  const sample = { at: NOW, guests: Object.fromEntries(guests.map((g) => [g.id, { cpu: 95 }])), hosts: [{ host: 'dom0-a', cpuRatio: 0.95 }] };
  t.is(tick(p, emptyMemory(), guests, sample, NOW).result.hold?.cause, 'hosts-saturated');
  const { hosts: _hosts, ...without } = sample;
  t.is(tick(p, emptyMemory(), guests, without, NOW).result.decision.action, 'scale-out');
});
