// The `warm_pool:` section of a policy: how many guests are kept made and paused for fast
// scale-outs (controller/warm-pool.ts). Only drivers that can pause a guest may have one.
import type { WarmPoolSettings } from '../domain/policy.ts';
import type { Field, YamlReader } from './yaml-reader.ts';

/** Absent or size 0: no warm pool (undefined). `unpausable`: the configured drivers that cannot
 *  pause guests; omitted = not checked (the simulator, the schema). */
export function parseWarmPool(r: YamlReader, f: Field, o: { hardMax: number; driver: string | undefined; unpausable?: readonly string[] }): WarmPoolSettings | undefined {
  if (f.value === undefined) return undefined;
  const m = r.map(f, ['size']);
  if (m === undefined) return undefined;
  const size = r.int(m.get('size'), { required: true, min: 0, max: o.hardMax, maxNote: '(limits.hard_max)' });
  if (size === undefined || size === 0) return undefined;
  if (o.driver !== undefined && o.unpausable?.includes(o.driver)) {
    r.issue(m.get('size'), `guest.driver ${o.driver} cannot pause guests, so it cannot keep a warm pool (the driver has no pause and unpause; local and xen have)`);
    return undefined;
  }
  return { size };
}
