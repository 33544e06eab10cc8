// The xen driver's keys in a policy's `guest:` section: `credit: { weight, cap }` (the credit
// scheduler's parameters for every guest of the pool, drivers/xen/xen-sched.ts). Decoded and
// validated here, each problem at its line; xenKeys (xen-settings.ts) lists them for the registry.
import type { CreditSettings, VerticalSettings } from '../../domain/policy.ts';
import { isScalar } from 'yaml';
import type { Field, YamlReader } from '../../policy/yaml-reader.ts';

const VERTICAL_SCHEMA = {
  description: 'xen, vertical first: before a scale-out raise every serving guest by vcpu_step vCPUs (xl vcpu-set) and memory_step_mb MiB (xl mem-set) up to the template\'s maxvcpus/maxmem; before a scale-in lower them back to the template\'s vcpus/memory',
  oneOf: [
    { type: 'boolean' },
    { type: 'object', additionalProperties: false, properties: { vcpu_step: { type: 'integer', minimum: 0, default: 1 }, memory_step_mb: { type: 'integer', minimum: 0, default: 0 } } },
  ],
};

export const XEN_GUEST_POLICY_KEYS = ['credit', 'vertical'] as const;

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

/** `vertical: { vcpu_step, memory_step_mb }` (vertical first, decision/vertical-step.ts): each step
 *  moves every serving guest by vcpu_step vCPUs (default 1) and memory_step_mb MiB (default 0:
 *  memory left alone), within the template's vcpus..maxvcpus and memory..maxmem.
 *  `vertical: true` is the defaults. */
export function parseXenVertical(r: YamlReader, f: Field): VerticalSettings | undefined {
  r.describe(f, VERTICAL_SCHEMA);
  if (f.value === undefined) return undefined;
  if (isScalar(f.value)) return r.bool(f) === true ? { vcpuStep: 1, memoryStepMb: 0 } : undefined;
  const m = r.map(f, ['vcpu_step', 'memory_step_mb']);
  if (m === undefined) return undefined;
  const vcpuStep = r.int(m.get('vcpu_step'), { min: 0, max: 128, def: 1 });
  const memoryStepMb = r.int(m.get('memory_step_mb'), { min: 0, max: 1_048_576, def: 0 });
  if (vcpuStep === undefined || memoryStepMb === undefined) return undefined;
  if (vcpuStep === 0 && memoryStepMb === 0) {
    r.issue(f, 'steps neither vCPUs nor memory (leave vertical out for horizontal scaling only)');
    return undefined;
  }
  return { vcpuStep, memoryStepMb };
}
