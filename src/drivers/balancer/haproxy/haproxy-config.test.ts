// The haproxy driver's keys: gridhost.yaml `haproxy:` and a policy's `balancer:` keys for it.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { PolicyError } from '../../../errors/errors.ts';
import { loadConfig } from '../../../config/load-config.ts';
import { tryParsePolicy } from '../../../policy/parse-policy.ts';

function config(t: { teardown: (f: () => void) => void }, text: string) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-haproxy-config-'));
  t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));
  fs.writeFileSync(path.join(cwd, 'gridhost.yaml'), text);
  return () => loadConfig({ env: {}, cwd });
}

test('gridhost.yaml haproxy: only the socket is required; timeout 5s, reconcile every 2s, prefix gh-', (t) => {
  t.deepEqual(config(t, 'haproxy:\n  socket: /run/haproxy/admin.sock\n')().drivers.haproxy, { socket: '/run/haproxy/admin.sock', timeoutMs: 5000, reconcileMs: 2000, serverPrefix: 'gh-' });
  t.deepEqual(config(t, 'haproxy:\n  socket: 127.0.0.1:9999\n  timeout: 2s\n  reconcile_interval: 500ms\n  server_prefix: gridhost-\n')().drivers.haproxy,
    { socket: '127.0.0.1:9999', timeoutMs: 2000, reconcileMs: 500, serverPrefix: 'gridhost-' });
  t.is(config(t, 'log:\n  level: info\n')().drivers.haproxy, undefined, 'no section, no haproxy');
});

const badConfigs: Array<[string, string, RegExp]> = [
  ['the socket is required', 'haproxy:\n  timeout: 2s\n', /haproxy\.socket: is required/],
  ['the socket is a unix path or host:port', 'haproxy:\n  socket: admin.sock\n', /haproxy\.socket: must be the path of a unix socket .* or host:port/],
  ['the reconcile interval is at least 100ms', 'haproxy:\n  socket: /run/haproxy/admin.sock\n  reconcile_interval: 10ms\n', /haproxy\.reconcile_interval: must be at least 100ms/],
  ['the server prefix is a plain name start', 'haproxy:\n  socket: /run/haproxy/admin.sock\n  server_prefix: "a b"\n', /haproxy\.server_prefix: must be 1-16 letters/],
  ['unknown keys are refused', 'haproxy:\n  socket: /run/haproxy/admin.sock\n  sokcet: x\n', /haproxy\.sokcet: unknown key; did you mean socket\?/],
];
for (const [rule, text, message] of badConfigs) {
  test(`gridhost.yaml haproxy: ${rule}`, (t) => {
    const e = t.throws(config(t, text), { instanceOf: PolicyError });
    t.regex(e!.message, message);
  });
}

type Obj = Record<string, unknown>;
function policy(balancer: Obj) {
  const p = { pool: 'web', guest: { template: 'web.local.yaml', image: 'images/web' }, balancer, rules: [{ name: 'busy', strategy: 'threshold', metric: 'cpu', above: 70, step: '+1' }] };
  return tryParsePolicy(stringify(p), 'p.yaml', { templatesDir: '/srv/templates' });
}

test('policy: balancer.driver defaults to builtin; haproxy takes the pool\'s name as its backend unless told', (t) => {
  const builtin = policy({});
  t.true(builtin.ok && builtin.policy.balancer.driver === 'builtin' && builtin.policy.balancer.listen === '127.0.0.1:8080');
  const h = policy({ driver: 'haproxy' });
  t.true(h.ok);
  if (h.ok) t.like(h.policy.balancer, { driver: 'haproxy', backend: 'web', listen: '' });
  const named = policy({ driver: 'haproxy', backend: 'be_web', check: { interval: '2s', rise: 3, fall: 2 } });
  t.true(named.ok);
  if (named.ok) t.like(named.policy.balancer, { driver: 'haproxy', backend: 'be_web', check: { intervalMs: 2000, rise: 3, fall: 2 } });
});

const badPolicies: Array<[string, Obj, string, RegExp]> = [
  ['the driver is builtin or haproxy', { driver: 'nginx' }, 'balancer.driver', /builtin \| haproxy/],
  ['backend is for haproxy', { backend: 'web' }, 'balancer.backend', /is for balancer.driver: haproxy/],
  ['a haproxy front end is haproxy.cfg\'s', { driver: 'haproxy', listen: '127.0.0.1:8080' }, 'balancer.listen', /`bind` line of the pool's frontend in haproxy\.cfg/],
  ['a haproxy response timeout is haproxy.cfg\'s', { driver: 'haproxy', response_timeout: '30s' }, 'balancer.response_timeout', /`timeout server`/],
  ['a haproxy check timeout is haproxy.cfg\'s', { driver: 'haproxy', check: { timeout: '1s' } }, 'balancer.check.timeout', /`timeout check`/],
  ['fail-open is the builtin balancer\'s', { driver: 'haproxy', panic_threshold: 30 }, 'balancer.panic_threshold', /HAProxy has no fail-open mode/],
  ['a backend name HAProxy can take', { driver: 'haproxy', backend: 'web;del' }, 'balancer.backend', /HAProxy backend name/],
];
for (const [rule, balancer, at, message] of badPolicies) {
  test(`policy: ${rule}`, (t) => {
    const r = policy(balancer);
    if (r.ok) return t.fail('accepted');
    t.is(r.issues.length, 1, r.issues.map((i) => i.message).join('; '));
    t.is(r.issues[0]!.path, at);
    t.regex(r.issues[0]!.message, message);
  });
}
