// The haproxy balancer as a driver: its keys (haproxy-config.ts) and its create(): servers added
// to and removed from a running HAProxy through its runtime API, so it serves on while gridhost
// is down. Configured by gridhost.yaml's `haproxy:` section; without it there is none.
import type { Logger } from '../../../observability/logger.ts';
import type { BalancerDriver } from '../balancer-drivers.ts';
import { haproxyKeys } from './haproxy-config.ts';
import { HaproxyBalancer, type HaproxyChange } from './haproxy-balancer.ts';

/** What the haproxy driver saw, as log lines: lost servers and restarts are worth a warning. */
export function logHaproxyChange(logger: Logger, c: HaproxyChange): void {
  const fields = { ...c, event: 'haproxy' };
  if (c.kind === 'readded') logger.warn('HAProxy had lost servers gridhost registered (a reload or restart); added them again', fields);
  else if (c.kind === 'restarted') logger.warn('HAProxy was reloaded or restarted', fields);
  else if (c.kind === 'tcp-check-only') logger.warn('HAProxy checks the pool\'s guests only at TCP level', fields);
  else logger.debug('haproxy', fields);
}

export const haproxyDriver: BalancerDriver = {
  keys: haproxyKeys,
  unconfigured: 'balancer.driver is haproxy, but gridhost.yaml has no haproxy section: add `haproxy: { socket: <the admin stats socket of haproxy.cfg> }`',
  create: (config, { logger }) => {
    const h = config.drivers.haproxy;
    return h && new HaproxyBalancer({ ...h, onChange: (c) => logHaproxyChange(logger, c) });
  },
};
