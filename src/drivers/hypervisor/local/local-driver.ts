// The local driver: guests as real processes cloned from a base folder into guests_dir, their
// CPU read from /proc. Always available (it needs no section of gridhost.yaml).
import { ProcCpuSource } from '../../metrics/proc-cpu-source.ts';
import type { HypervisorDriver } from '../hypervisor-drivers.ts';
import { LocalHypervisor } from './local-hypervisor.ts';
import { localKeys } from './local-keys.ts';

export const localDriver: HypervisorDriver = {
  keys: localKeys,
  create: (config, { pauseAt }) => ({
    hypervisor: new LocalHypervisor({
      guestsDir: config.guestsDir,
      ...(pauseAt ? { afterSpawn: (guest: string) => pauseAt('spawned', guest) } : {}),
    }),
    sources: [new ProcCpuSource()],
    routes: [],
    close: async () => undefined,
  }),
};
