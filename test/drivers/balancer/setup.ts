// One balancer with a 'web' pool on an ephemeral port, torn down with the test.
import type { ExecutionContext } from 'ava';
import { BuiltinBalancer, type BalancerChange, type BuiltinBalancerOptions } from '../../../src/drivers/balancer/builtin/builtin-balancer.ts';
import { startBackend, waitFor, type TestBackend } from './helpers.ts';

export async function setupPool(t: ExecutionContext, opts: BuiltinBalancerOptions = {}) {
  const events: BalancerChange[] = [];
  const lb = new BuiltinBalancer({ healthIntervalMs: 100, onChange: (c) => events.push(c), ...opts });
  const backends: TestBackend[] = [];
  t.teardown(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.kill()));
  });
  await lb.ensurePool('web', '127.0.0.1:0', '/healthz');
  const front = lb.frontendAddress('web');
  const backend = async (id: string, o: { healthy?: boolean; delayMs?: number } = {}) => {
    const b = await startBackend(id, o);
    backends.push(b);
    return b;
  };
  const status = async (id: string) => (await lb.list('web')).find((s) => s.id === id);
  const healthy = (id: string) => waitFor(`${id} healthy`, async () => (await status(id))?.healthy === true);
  /** Start backends, add them and wait until all are healthy. */
  const live = async (ids: string[], o: { delayMs?: number } = {}) => {
    const bs = await Promise.all(ids.map((id) => backend(id, o)));
    for (const b of bs) await lb.add('web', b.id, b.address);
    for (const b of bs) await healthy(b.id);
    return bs;
  };
  return { lb, front, backend, status, healthy, live, events };
}
