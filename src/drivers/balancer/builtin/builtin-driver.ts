// The builtin balancer as a driver: its keys and its create(). Its health checks and connections
// are tuned for guests reached through their dom0's SSH connection when some are.
import { logBalancerChange } from '../../../observability/balancer-log.ts';
import { FORWARDED_GUESTS } from '../../guest-net/guest-net.ts';
import type { BalancerDriver } from '../balancer-drivers.ts';
import { BuiltinBalancer } from './builtin-balancer.ts';
import { builtinKeys } from './builtin-keys.ts';

export const builtinDriver: BalancerDriver = {
  keys: builtinKeys,
  create: (_config, { logger, routes }) => {
    const forwarded = routes !== undefined && !routes.allDirect;
    return new BuiltinBalancer({
      // Checks of a guest behind its dom0 each cost an SSH channel and a shell in the guest.
      healthIntervalMs: forwarded ? FORWARDED_GUESTS.checkIntervalMs : 250,
      ...(forwarded ? { healthTimeoutMs: FORWARDED_GUESTS.checkTimeoutMs, fallCount: 3, maxSocketsPerBackend: FORWARDED_GUESTS.socketsPerGuest } : {}),
      // Down, up, fail-open and no-backend are warn/info/error lines with their reason.
      onChange: (c) => logBalancerChange(logger, c),
      // The controller names the dom0 a guest's route goes through with each add().
      ...(forwarded ? { connectVia: (host: string) => routes.connectFor(host) } : {}),
    });
  },
};
