import test from 'ava';
import type { Guest } from '../domain/types.ts';
import { factsFromBackends } from './victim-facts.ts';

const g = (id: string): Guest => ({ id, pool: 'web', state: 'healthy', driver: 'fake', host: 'h', createdAt: 1, updatedAt: 1, meta: {} });

test('the balancer gives each guest its requests in flight and names those failing their check', (t) => {
  const facts = factsFromBackends([
    { id: 'a', healthy: true, active: 3 },
    { id: 'b', healthy: false, active: 0 },
    { id: 'other-pool-guest', healthy: false, active: 7 },
  ], [g('a'), g('b'), g('c')]);
  t.deepEqual(facts, { inflight: { a: 3, b: 0 }, unhealthy: ['b'] });
});
