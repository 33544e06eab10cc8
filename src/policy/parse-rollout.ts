// The `rollout:` section of a policy: how guests made from another template or base image are
// replaced (controller/rollout.ts). `rollout: auto` / `rollout: manual` is short for
// `rollout: { mode: auto }`; the mapping form sets the batch sizes and the pause.
import { isScalar } from 'yaml';
import { DEFAULT_ROLLOUT, type RolloutMode, type RolloutSettings } from '../domain/policy.ts';
import type { Field, YamlReader } from './yaml-reader.ts';

const MODES: readonly RolloutMode[] = ['manual', 'auto'];
const KEYS = ['mode', 'max_surge', 'max_unavailable', 'pause'] as const;

/** The field's schema (either form), stated here because the reader sees one form per file. */
const SCHEMA = {
  description: 'replacing guests made from another template or base image: manual (gridhost rollout POOL) or auto; batches of max_surge new guests beside the old ones (never past max), max_unavailable old ones retired before their replacements serve, pause between batches',
  oneOf: [
    { type: 'string', enum: [...MODES] },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { type: 'string', enum: [...MODES], default: DEFAULT_ROLLOUT.mode },
        max_surge: { type: 'integer', minimum: 0, default: DEFAULT_ROLLOUT.maxSurge, description: 'at most limits.hard_max of gridhost.yaml (default 8)' },
        max_unavailable: { type: 'integer', minimum: 0, default: DEFAULT_ROLLOUT.maxUnavailable, description: 'at most limits.hard_max of gridhost.yaml (default 8)' },
        pause: { type: 'string', description: 'a duration such as 500ms, 30s, 5m or 1h30m', default: '0s' },
      },
    },
  ],
};

export function parseRollout(r: YamlReader, f: Field, hardMax: number): RolloutSettings | undefined {
  r.describe(f, SCHEMA);
  if (f.value === undefined) return { ...DEFAULT_ROLLOUT };
  if (isScalar(f.value)) {
    const mode = r.oneOf(f, MODES);
    return mode === undefined ? undefined : { ...DEFAULT_ROLLOUT, mode };
  }
  const m = r.map(f, KEYS);
  if (m === undefined) return undefined;
  const mode = r.oneOf(m.get('mode'), MODES, { def: DEFAULT_ROLLOUT.mode });
  const maxSurge = r.int(m.get('max_surge'), { def: DEFAULT_ROLLOUT.maxSurge, min: 0, max: hardMax, maxNote: '(limits.hard_max)' });
  const maxUnavailable = r.int(m.get('max_unavailable'), { def: DEFAULT_ROLLOUT.maxUnavailable, min: 0, max: hardMax, maxNote: '(limits.hard_max)' });
  const pauseMs = r.duration(m.get('pause'), { def: DEFAULT_ROLLOUT.pauseMs });
  if (maxSurge === 0 && maxUnavailable === 0) {
    r.issue(m.has('max_surge') ? m.get('max_surge') : m.get('max_unavailable'), 'max_surge and max_unavailable cannot both be 0: no batch could replace a guest');
    return undefined;
  }
  if (mode === undefined || maxSurge === undefined || maxUnavailable === undefined || pauseMs === undefined) return undefined;
  return { mode, maxSurge, maxUnavailable, pauseMs };
}
