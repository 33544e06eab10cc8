// The balancer's state changes as log lines, at the level an operator needs: a backend going
// down, a pool failing open or left without any backend are never silent; routine bookkeeping
// (front ends, registrations, drains) stays at debug.
import type { BalancerChange, BalancerChangeKind } from '../drivers/balancer/balancer.ts';
import type { Logger } from './logger.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';

const LEVEL: Record<BalancerChangeKind, Level> = {
  'pool-up': 'debug',
  'pool-down': 'debug',
  added: 'debug',
  removed: 'debug',
  drain: 'debug',
  healthy: 'info',
  unhealthy: 'warn',
  'fail-open': 'warn',
  'fail-open-over': 'info',
  // Every client of the pool gets 503 now.
  'no-backend': 'error',
  serving: 'info',
};

function message(c: BalancerChange): string {
  const why = c.reason ? `: ${c.reason}` : '';
  switch (c.kind) {
    case 'healthy': return `backend ${c.id} of pool ${c.pool} is up${why}`;
    case 'unhealthy': return `backend ${c.id} of pool ${c.pool} is down${why}`;
    case 'fail-open': return `pool ${c.pool} fails open${why}`;
    case 'fail-open-over': return `pool ${c.pool} no longer fails open${why}`;
    case 'no-backend': return `pool ${c.pool} has no backend that can serve${why}`;
    case 'serving': return `pool ${c.pool} serves again${why}`;
    default: return 'balancer';
  }
}

export function logBalancerChange(logger: Pick<Logger, 'log'>, c: BalancerChange): void {
  logger.log(LEVEL[c.kind], message(c), {
    event: 'balancer',
    kind: c.kind,
    pool: c.pool,
    ...(c.id !== undefined ? { backend: c.id } : {}),
    ...(c.address !== undefined ? { address: c.address } : {}),
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
  });
}
