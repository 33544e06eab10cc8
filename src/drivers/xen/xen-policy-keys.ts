// The xen driver's keys in a policy's `guest:` section: `credit: { weight, cap }` (the credit
// scheduler's parameters for every guest of the pool, drivers/xen/xen-sched.ts). Decoded and
// validated here, each problem at its line; xenKeys (xen-settings.ts) lists them for the registry.
import type { CreditSettings } from '../../domain/policy.ts';
import type { Field, YamlReader } from '../../policy/yaml-reader.ts';

export const XEN_GUEST_POLICY_KEYS = ['credit'] as const;

/** Xen's limits: a weight is 1-65535; a cap is % of one CPU, 0 for none (xl sched-credit(2)). */
const MAX_WEIGHT = 65535;
const MAX_CAP = 12800;

export function parseXenCredit(r: YamlReader, f: Field): CreditSettings | undefined {
  const m = r.map(f, ['weight', 'cap']);
  if (m === undefined) return undefined;
  const weight = r.int(m.get('weight'), { min: 1, max: MAX_WEIGHT });
  const cap = r.int(m.get('cap'), { min: 0, max: MAX_CAP });
  if (!m.has('weight') && !m.has('cap')) {
    r.issue(f, 'sets neither weight nor cap (leave credit out to keep Xen\'s own)');
    return undefined;
  }
  if ((m.has('weight') && weight === undefined) || (m.has('cap') && cap === undefined)) return undefined;
  return { ...(weight !== undefined ? { weight } : {}), ...(cap !== undefined ? { cap } : {}) };
}
