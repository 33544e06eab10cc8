// The xen driver: one kept SSH connection per dom0 of gridhost.yaml, shared by xl, xentop and
// the way to the guests (guest-net) unless their network is routed. Without dom0s there is none.
import type { HypervisorDriver } from '../hypervisor/hypervisor-drivers.ts';
import { createXenDrivers } from './create-xen-drivers.ts';
import { xenKeys } from './xen-settings.ts';

export const xenDriver: HypervisorDriver = {
  keys: xenKeys,
  unconfigured: 'guest.driver is xen, but gridhost.yaml lists no dom0s: add `dom0s:` with each Xen host and its pinned host key',
  create: (config) => {
    const xen = config.drivers.xen;
    if (xen === undefined || xen.dom0s.length === 0) return undefined;
    // Timeouts for dom0s whose toolstack may be slow (xl create runs the hotplug scripts; a
    // loaded dom0 takes tens of seconds).
    const drivers = createXenDrivers(xen.dom0s, {
      // Proxied connections and health checks are channels too: leave room beside xl and xentop
      // (dropbear allows 100 channels per connection, OpenSSH 10 sessions plus forwards).
      ssh: { maxChannels: 64 },
      hypervisor: {
        commandTimeoutMs: 60_000,
        createTimeoutMs: 300_000,
        xlPath: xen.xlPath,
        cfgDir: xen.cfgDir,
        memoryMb: xen.memoryMb,
        networkByHost: Object.fromEntries(xen.dom0s.flatMap((d) => (d.network ? [[d.name, d.network]] : []))),
        storageByHost: Object.fromEntries(xen.dom0s.flatMap((d) => (d.storage ? [[d.name, d.storage]] : []))),
        migrateToByHost: Object.fromEntries(xen.dom0s.flatMap((d) => (d.storage ? [[d.name, d.migrateTo ?? d.address]] : []))),
      },
      xentop: { timeoutMs: 30_000 },
    });
    return {
      hypervisor: drivers.hypervisor,
      sources: [drivers.xentop],
      // `guest_network: ssh`, the default: over the dom0's SSH connection.
      routes: xen.dom0s.map((d) => ({
        name: d.name,
        via: d.guestNetwork === 'routed' ? undefined : (host: string, port: number) => drivers.hosts.ssh(d.name).forward(host, port),
      })),
      close: () => drivers.close(),
    };
  },
};
