// Metrics as decorators around drivers (the Karpenter model): the drivers stay free of
// prom-client, and every call is timed the same way into
// gridhost_driver_operation_duration_seconds{driver,operation,outcome}, where outcome is "ok"
// or the GridhostError code the call rejected with ("error" for anything else, which breaks
// the drivers' error contract and is worth noticing).
import type { Policy } from '../domain/policy.ts';
import { isGridhostError } from '../errors/errors.ts';
import type { Guest } from '../domain/types.ts';
import type { Balancer } from '../drivers/balancer/balancer.ts';
import type { DriverFence, Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import type { GridhostMetrics } from './metrics.ts';

type DriverMetrics = Pick<GridhostMetrics, 'driverOperationDuration'>;

function timer(m: DriverMetrics, driver: string) {
  return async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    const end = m.driverOperationDuration.startTimer({ driver, operation });
    try {
      const r = await fn();
      end({ outcome: 'ok' });
      return r;
    } catch (e) {
      end({ outcome: isGridhostError(e) ? e.code : 'error' });
      throw e;
    }
  };
}

export function instrumentHypervisor(h: Hypervisor, m: DriverMetrics): Hypervisor {
  const t = timer(m, h.name);
  return {
    name: h.name,
    hostNames: () => h.hostNames(),
    clone: (spec) => t('clone', () => h.clone(spec)),
    boot: (spec, meta) => t('boot', () => h.boot(spec, meta)),
    stop: (guest, timeoutMs, fence) => t('stop', () => h.stop(guest, timeoutMs, fence)),
    deleteClone: (guest, fence) => t('deleteClone', () => h.deleteClone(guest, fence)),
    discover: () => t('discover', () => h.discover()),
    close: () => t('close', () => h.close()),
    // Not timed: a cached, synchronous answer.
    ...(h.hostUp ? { hostUp: (host: string) => h.hostUp!(host) } : {}),
    ...(h.gone ? { gone: (guests: readonly Guest[]) => t('gone', () => h.gone!(guests)) } : {}),
    ...(h.pause ? { pause: (g: Guest, fence?: DriverFence) => t('pause', () => h.pause!(g, fence)) } : {}),
    ...(h.unpause ? { unpause: (g: Guest, fence?: DriverFence) => t('unpause', () => h.unpause!(g, fence)) } : {}),
    ...(h.migrate ? { migrate: (guest: Guest, o: Parameters<NonNullable<Hypervisor['migrate']>>[1]) => t('migrate', () => h.migrate!(guest, o)) } : {}),
    ...(h.sourceDigest ? { sourceDigest: (policy: Policy, host: string) => t('sourceDigest', () => h.sourceDigest!(policy, host)) } : {}),
    ...(h.hostFacts ? { hostFacts: () => t('hostFacts', () => h.hostFacts!()) } : {}),
    ...(h.resize ? { resize: (g: Guest, size: { vcpus: number; memoryMb: number }, fence?: Parameters<NonNullable<Hypervisor['resize']>>[2]) => t('resize', () => h.resize!(g, size, fence)) } : {}),
    ...(h.verifyAddress ? { verifyAddress: (g: Guest) => t('verifyAddress', () => h.verifyAddress!(g)) } : {}),
    ...(h.reapply ? { reapply: (g: Guest, policy: Policy, fence?: DriverFence) => t('reapply', () => h.reapply!(g, policy, fence)) } : {}),
  };
}

export function instrumentBalancer(b: Balancer, m: DriverMetrics): Balancer {
  const t = timer(m, b.name);
  return {
    name: b.name,
    ensurePool: (pool, listen, healthPath, settings) => t('ensurePool', () => b.ensurePool(pool, listen, healthPath, settings)),
    removePool: (pool) => t('removePool', () => b.removePool(pool)),
    add: (pool, id, address, via) => t('add', () => b.add(pool, id, address, via)),
    setDrain: (pool, id) => t('setDrain', () => b.setDrain(pool, id)),
    remove: (pool, id) => t('remove', () => b.remove(pool, id)),
    list: (pool) => t('list', () => b.list(pool)),
    serving: (pool) => t('serving', () => b.serving(pool)),
    close: () => t('close', () => b.close()),
    // Not timed: a cached, synchronous answer.
    ...(b.blocked ? { blocked: (pool: string) => b.blocked!(pool) } : {}),
  };
}
