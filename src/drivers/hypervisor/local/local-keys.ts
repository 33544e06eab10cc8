// The local driver's keys of a policy's `guest:` section: its base image is a folder under the
// templates folder, cloned by reflink or plain copy. It has no section in gridhost.yaml (its
// clones go to guests_dir). Pure (the registry in hypervisor-keys.ts lists it).
import type { HypervisorKeys } from '../hypervisor-keys.ts';

export const localKeys: HypervisorKeys<never> = {
  name: 'local',
  clones: ['auto', 'reflink', 'copy'],
  policyKeys: [],
  image: (_r, f, ctx) => ctx.templatePath(f, 'base image'),
};
