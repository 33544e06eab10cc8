import test from 'ava';
import type { Guest, MetricValues } from '../../domain/types.ts';
import { GridhostError } from '../../errors/errors.ts';
import { CombinedSource } from './combined-source.ts';
import type { MetricsSource } from './metrics-source.ts';

const fixed = (name: string, data: Record<string, MetricValues>): MetricsSource => ({
  name,
  sample: async () => new Map(Object.entries(data)),
  close: async () => undefined,
});
const down = (name: string): MetricsSource => ({
  name,
  sample: async () => {
    throw new GridhostError('GH_HOST_UNREACHABLE', `${name} is down`);
  },
  close: async () => undefined,
});
const guests: Guest[] = [];

test('values of several sources are merged per guest; the later source wins a shared key', async (t) => {
  const c = new CombinedSource([fixed('a', { g1: { cpu: 50, x: 1 }, g2: { cpu: 10 } }), fixed('b', { g1: { rps: 7, x: 2 }, g3: { rps: 1 } })]);
  t.is(c.name, 'combined(a+b)');
  t.deepEqual(Object.fromEntries(await c.sample(guests)), { g1: { cpu: 50, x: 2, rps: 7 }, g2: { cpu: 10 }, g3: { rps: 1 } });
});

test('a failing source contributes nothing and is logged; the others still report', async (t) => {
  const warned: string[] = [];
  const c = new CombinedSource([down('a'), fixed('b', { g1: { rps: 7 } })], { warn: (m, meta) => warned.push(`${m} ${String(meta?.source)}`) });
  t.deepEqual(Object.fromEntries(await c.sample(guests)), { g1: { rps: 7 } });
  t.deepEqual(warned, ['metrics source failed a']);
});

test('when every source fails the combined source rejects with the first error', async (t) => {
  const c = new CombinedSource([down('a'), down('b')]);
  const e = await t.throwsAsync(c.sample(guests), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_HOST_UNREACHABLE');
  t.regex(e?.message ?? '', /a is down/);
});
