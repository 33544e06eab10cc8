// A frontend named like its backend (as templates/haproxy.cfg names both after the pool): the
// driver's serving figures and list() still come from the backend's rows. `show stat NAME`
// resolves NAME to the first proxy of that name, the frontend, and answered no server rows:
// every guest read as served 0 and in flight 0 (found on the routed Xen test).
import test from 'ava';
import { HaproxyBalancer } from '../../../src/drivers/balancer/haproxy/haproxy-balancer.ts';
import { HaproxyRuntime } from '../../../src/drivers/balancer/haproxy/runtime-api.ts';
import { parseSocketAddress } from '../../../src/drivers/balancer/haproxy/runtime-socket.ts';
import { startHaproxy } from './haproxy-fixture.ts';
import { load, send, startBackend, waitFor } from './helpers.ts';

test('with frontend and backend both named after the pool, served and in-flight figures are the backend servers\' own', async (t) => {
  const hx = await startHaproxy({
    backends: ['web'],
    config: ({ dir, socketLine, ports }) => [
      'global', `    ${socketLine}`, `    stats socket ${dir}/admin-for-tests.sock mode 600 level admin`, `    pidfile ${dir}/haproxy.pid`, '',
      'defaults', '    mode http', '    timeout connect 2s', '    timeout client 30s', '    timeout server 30s', '    timeout check 2s', '',
      'frontend web', `    bind 127.0.0.1:${ports.web}`, '    default_backend web', '',
      'backend web', '    balance roundrobin', '    option httpchk GET /healthz', '',
    ].join('\n'),
  });
  const lb = new HaproxyBalancer({ socket: hx.socket, reconcileMs: 200, removeWaitMs: 500, timeoutMs: 10_000 });
  const a = await startBackend('web-a');
  t.teardown(async () => {
    await lb.close();
    await hx.stop();
    await a.kill();
  });
  await lb.ensurePool('web', '', '/healthz', { check: { intervalMs: 100, rise: 1, fall: 2 } });
  await lb.add('web', 'web-a', a.address);
  await waitFor('checked', async () => (await lb.list('web')).some((b) => b.healthy));
  const counts = await load(30, 3, async () => (await send(hx.frontends.web!)).status);
  t.deepEqual([...counts], [[200, 30]]);
  const [b] = await lb.list('web');
  t.is(b?.served, 30);
  const sv = await lb.serving('web');
  t.is(sv.backends[0]?.stats.responses['2xx'], 30);
  t.is(sv.frontend.responses['2xx'], 30, 'the pool\'s figures are the backend aggregate');

  // By the backend's numeric id (one proxy's rows, not every proxy's); an id that names another
  // proxy, or none, falls back to every proxy's rows filtered by name.
  const rt = new HaproxyRuntime(parseSocketAddress(hx.socket)!, { timeoutMs: 10_000 });
  const [row] = await rt.serversState('web');
  t.true(Number.isInteger(row?.backendId) && row!.backendId > 0, `be_id ${row?.backendId}`);
  const byName = await rt.stat('web', { aggregates: true });
  const names = (rows: { name: string; backend: string }[]) => rows.map((r) => `${r.backend}/${r.name}`).sort();
  t.deepEqual(names(byName), ['web/BACKEND', 'web/gh-web-a']);
  for (const backendId of [row!.backendId, row!.backendId - 1, 9999]) {
    t.deepEqual(names(await rt.stat('web', { aggregates: true, backendId })), names(byName), `backendId ${backendId}`);
  }
});
