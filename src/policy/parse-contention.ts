// The `contention:` section of a policy: a host is saturated from `saturated_at` of its CPUs
// (decision/host-contention.ts). `contention: on` is short for the default threshold.
import { isScalar } from 'yaml';
import { DEFAULT_CONTENTION, type ContentionSettings } from '../domain/policy.ts';
import type { Field, YamlReader } from './yaml-reader.ts';

const SCHEMA = {
  description: 'contention-aware scale-out: placement prefers hosts whose domains use less than saturated_at of their CPUs, and a scale-out the rules want holds (hosts-saturated) when every host is saturated',
  oneOf: [
    { type: 'boolean' },
    { type: 'object', additionalProperties: false, properties: { saturated_at: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: DEFAULT_CONTENTION.saturatedAt } } },
  ],
};

export function parseContention(r: YamlReader, f: Field): ContentionSettings | undefined {
  r.describe(f, SCHEMA);
  if (f.value === undefined) return undefined;
  if (isScalar(f.value)) {
    const on = r.bool(f);
    return on === true ? { ...DEFAULT_CONTENTION } : undefined;
  }
  const m = r.map(f, ['saturated_at']);
  if (m === undefined) return undefined;
  const saturatedAt = r.num(m.get('saturated_at'), { def: DEFAULT_CONTENTION.saturatedAt, min: 0, minExclusive: true, max: 1 });
  return saturatedAt === undefined ? undefined : { saturatedAt };
}
