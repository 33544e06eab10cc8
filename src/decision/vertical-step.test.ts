import test from 'ava';
import type { Policy } from '../domain/policy.ts';
import type { Guest } from '../domain/types.ts';
import { decide } from './decide.ts';
import type { PoolView } from './decide-types.ts';
import { busyRule, cpuTicks, healthy, idleRule, makePolicy, makeView, NOW } from './test-helpers.ts';
import { guestSizeOf, verticalStep } from './vertical-step.ts';

const sized = (gs: Guest[], vcpus: number, memoryMb = 512, max = { vcpus: 2, memoryMb: 1024 }): Guest[] =>
  gs.map((g) => ({ ...g, meta: { ...g.meta, vcpus: String(vcpus), maxvcpus: String(max.vcpus), base_vcpus: '1', memory_mb: String(memoryMb), maxmem_mb: String(max.memoryMb), base_memory_mb: '512' } }));
const vertical = (over: Partial<Policy> = {}): Policy => {
  const p = makePolicy({ rules: [busyRule(), idleRule()], scaleIn: { cooldownMs: 60_000, stabilizationMs: 0, victims: 'newest' }, ...over });
  return { ...p, guest: { ...p.guest, vertical: { vcpuStep: 1, memoryStepMb: 256 } } };
};
const view = (guests: Guest[], cpu: number[], extra: Partial<PoolView> = {}) => makeView({ guests, samples: cpuTicks(guests.map((g) => g.id), cpu), ...extra });

test('a scale-out the rules want is a resize up while guests are below maxvcpus: +1 vCPU and +256 MiB each, the size kept', (t) => {
  const r = decide(vertical(), view(sized(healthy(3), 1), [90, 90, 90]), NOW);
  const d = r.decision;
  if (d.action !== 'resize') return t.fail(`wanted a resize, got ${d.action}: ${d.reason}`);
  t.is(d.direction, 'up');
  t.is(d.from, 3);
  t.is(d.to, 3);
  t.deepEqual(d.guests.map((g) => [g.vcpus, g.memoryMb]), Array(3).fill([{ from: 1, to: 2 }, { from: 512, to: 768 }]));
  t.regex(d.reason, /^resize up: 3 guests 1 -> 2 vCPUs, 512 -> 768 MiB \(vertical first.*wanted 3 -> 4: cpu mean/);
});

test('every guest at its maxvcpus and maxmem: the scale-out clones a guest as without vertical', (t) => {
  const r = decide(vertical(), view(sized(healthy(3), 2, 1024), [90, 90, 90]), NOW);
  t.is(r.decision.action, 'scale-out');
  t.is(r.decision.action === 'scale-out' ? r.decision.to : 0, 4);
});

test('a scale-in the rules want lowers the guests to their template size first, then retires guests', (t) => {
  const down = decide(vertical(), view(sized(healthy(3), 2, 768), [5, 5, 5]), NOW).decision;
  if (down.action !== 'resize') return t.fail(down.reason);
  t.is(down.direction, 'down');
  t.deepEqual(down.guests[0], { id: down.guests[0]!.id, vcpus: { from: 2, to: 1 }, memoryMb: { from: 768, to: 512 } });
  t.is(decide(vertical(), view(sized(healthy(3), 1, 512), [5, 5, 5]), NOW).decision.action, 'scale-in');
});

test('a resize waits for the cooldown of the scale it stands for', (t) => {
  const r = decide(vertical({ scaleOut: { cooldownMs: 60_000, whileBooting: 'hold' } }), view(sized(healthy(3), 1), [90, 90, 90], { lastScaleOutAt: NOW - 10_000 }), NOW);
  t.is(r.decision.action, 'hold');
  t.is(r.hold?.cause, 'cooldown');
});

test('below min the pool scales out horizontally even with room to resize', (t) => {
  const r = decide(vertical({ min: 4 }), view(sized(healthy(3), 1), [50, 50, 50]), NOW);
  t.is(r.decision.action, 'scale-out');
});

test('without guest.vertical a pool never resizes', (t) => {
  const p = makePolicy({ rules: [busyRule(), idleRule()] });
  t.is(decide(p, view(sized(healthy(3), 1), [90, 90, 90]), NOW).decision.action, 'scale-out');
});

test('a guest whose size its record does not tell is left out of a step, and none at all means no step', (t) => {
  t.is(guestSizeOf({ meta: { vcpus: '1' } }), undefined);
  t.is(verticalStep({ vcpuStep: 1, memoryStepMb: 0 }, healthy(2), 'up'), undefined);
  const mixed = [...sized(healthy(1), 1), ...healthy(2).slice(1)];
  const step = verticalStep({ vcpuStep: 1, memoryStepMb: 0 }, mixed, 'up');
  t.deepEqual(step?.guests.map((g) => [g.id, g.vcpus.to, g.memoryMb.to]), [[mixed[0]!.id, 2, 512]]);
});

test('a step is capped at the ceiling and floored at the template size, never the wrong way', (t) => {
  const up = verticalStep({ vcpuStep: 4, memoryStepMb: 4096 }, sized(healthy(1), 1, 512, { vcpus: 3, memoryMb: 900 }), 'up');
  t.deepEqual(up?.guests.map((g) => [g.vcpus.to, g.memoryMb.to]), [[3, 900]]);
  const down = verticalStep({ vcpuStep: 4, memoryStepMb: 4096 }, sized(healthy(1), 3, 900, { vcpus: 3, memoryMb: 900 }), 'down');
  t.deepEqual(down?.guests.map((g) => [g.vcpus.to, g.memoryMb.to]), [[1, 512]]);
});

test('at max the guests still grow: a resize up instead of holding at max', (t) => {
  const d = decide(vertical({ max: 3 }), view(sized(healthy(3), 1), [90, 90, 90]), NOW).decision;
  t.is(d.action, 'resize');
  t.is(d.action === 'resize' ? d.direction : undefined, 'up');
  const full = decide(vertical({ max: 3 }), view(sized(healthy(3), 2, 1024), [90, 90, 90]), NOW);
  t.is(full.hold?.cause, 'at-max');
});

test('at min the guests still shrink back to their template size: a resize down instead of holding at min', (t) => {
  const d = decide(vertical({ min: 3 }), view(sized(healthy(3), 2, 512), [5, 5, 5]), NOW).decision;
  t.is(d.action === 'resize' ? d.direction : d.action, 'down');
  t.is(decide(vertical({ min: 3 }), view(sized(healthy(3), 1, 512), [5, 5, 5]), NOW).hold?.cause, 'at-min');
});

test('the stabilization window holds a step down as it holds a scale-in', (t) => {
  const p = vertical({ scaleIn: { cooldownMs: 0, stabilizationMs: 60_000, victims: 'newest' } });
  const r = decide(p, view(sized(healthy(3), 2, 512), [5, 5, 5], { recommendations: [{ at: NOW - 10_000, desired: 3 }] }), NOW);
  t.is(r.decision.action, 'hold');
  t.is(r.hold?.cause, 'stabilization');
});
