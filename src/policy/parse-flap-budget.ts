// The `flap_budget:` section of a policy: at most `changes` guests started plus stopped per
// `window` (decision/flap-budget.ts). Absent: no budget.
import type { FlapBudgetSettings } from '../domain/policy.ts';
import type { Field, YamlReader } from './yaml-reader.ts';

const KEYS = ['changes', 'window'] as const;

/** The largest window: the pool's record keeps one mark per scale action inside it. */
const MAX_WINDOW_MS = 24 * 3600_000;

export function parseFlapBudget(r: YamlReader, f: Field): FlapBudgetSettings | undefined {
  const m = r.map(f, KEYS);
  if (m === undefined) return undefined;
  const changes = r.int(m.get('changes'), { required: true, min: 1 });
  const windowMs = r.duration(m.get('window'), { required: true, positive: true });
  if (windowMs !== undefined && windowMs > MAX_WINDOW_MS) {
    r.issue(m.get('window'), 'must be at most 24h');
    return undefined;
  }
  if (changes === undefined || windowMs === undefined) return undefined;
  return { changes, windowMs };
}
