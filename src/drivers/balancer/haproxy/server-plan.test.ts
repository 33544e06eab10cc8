import test from 'ava';
import type { ServerState } from './runtime-replies.ts';
import { guestIdOf, planServers, rowAddress, serverName, type WantedServer } from './server-plan.ts';

const row = (name: string, addr = '127.0.0.1', port = 8000): ServerState => ({ backend: 'web', backendId: 3, id: 1, name, addr, port, op: 'running', maint: false, drain: false });
const wanted = (entries: Array<[string, string]>): Map<string, WantedServer> => new Map(entries.map(([id, address]) => [id, { address, admin: 'ready' }]));

test('a gridhost server is named <prefix><guest id>; any other name is not gridhost\'s', (t) => {
  t.is(serverName('gh-', 'web-1a2b'), 'gh-web-1a2b');
  t.is(guestIdOf('gh-', 'gh-web-1a2b'), 'web-1a2b');
  t.is(guestIdOf('gh-', 'static1'), undefined);
  t.is(guestIdOf('gh-', 'gh-'), undefined);
});

test('rows give host:port as guests write it, IPv6 bracketed', (t) => {
  t.is(rowAddress({ addr: '10.0.0.5', port: 80 }), '10.0.0.5:80');
  t.is(rowAddress({ addr: '::1', port: 8080 }), '[::1]:8080');
});

test('registered servers absent from the backend are missing; others of the operator are ignored', (t) => {
  const plan = planServers('web', 'gh-', wanted([['web-a', '127.0.0.1:8000'], ['web-b', '127.0.0.1:8001']]), [row('gh-web-a'), row('static1'), row('backup', '10.0.0.9')]);
  t.deepEqual(plan, { missing: ['web-b'], foreign: [], mismatched: [] });
});

test('a prefixed server that cannot be one of the pool\'s guests is foreign', (t) => {
  const plan = planServers('web', 'gh-', wanted([]), [row('gh-1'), row('gh-api-77'), row('gh-web-a')]);
  t.deepEqual(plan.foreign, ['gh-1', 'gh-api-77']);
});

test('a registered name at another address is a mismatch, not the guest', (t) => {
  const plan = planServers('web', 'gh-', wanted([['web-a', '127.0.0.1:8000']]), [row('gh-web-a', '127.0.0.1', 9)]);
  t.deepEqual(plan.mismatched, [{ id: 'web-a', found: '127.0.0.1:9', wanted: '127.0.0.1:8000' }]);
  t.deepEqual(plan.missing, []);
});
