// A real HAProxy for end-to-end tests, run from the shipped templates/haproxy.cfg (so the
// example is proven to work): the same file with only what a test must change — its stats
// socket in a temp dir, the frontend on a loopback port the test picked, the pool's name, and
// no chroot/user/daemon/syslog (the test runs it in the foreground and stops it by PID).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHaproxy, type HaproxyFixture } from '../drivers/balancer/haproxy-fixture.ts';
import { REPO } from './harness.ts';

/** templates/haproxy.cfg, adapted for a test. Throws if the template no longer has the lines it changes. */
export function templateConfig(pool: string, dir: string, socketLine: string, port: number): string {
  let text = readFileSync(join(REPO, 'templates', 'haproxy.cfg'), 'utf8');
  const swap = (re: RegExp, to: string): void => {
    if (!re.test(text)) throw new Error(`templates/haproxy.cfg has no line matching ${re}`);
    text = text.replace(re, to);
  };
  swap(/^ *stats socket \/run\/haproxy\/admin\.sock .*$/m, `    ${socketLine}\n    stats socket ${join(dir, 'admin-for-tests.sock')} mode 600 level admin`);
  swap(/^ *chroot .*\n/m, '');
  swap(/^ *user haproxy\n/m, '');
  swap(/^ *group haproxy\n/m, '');
  swap(/^ *daemon\n/m, '');
  text = text.replace(/^ *log \/dev\/log .*\n/gm, '');
  swap(/^frontend web$/m, `frontend ${pool}`);
  swap(/^ *bind 127\.0\.0\.1:8080$/m, `    bind 127.0.0.1:${port}`);
  swap(/^ *default_backend web$/m, `    default_backend ${pool}`);
  swap(/^backend web$/m, `backend ${pool}`);
  return text;
}

/** HAProxy from the shipped template, serving `pool` (its frontend: fixture.frontends[pool]). */
export function startTemplateHaproxy(pool: string, opts: { socketPath?: string } = {}): Promise<HaproxyFixture> {
  return startHaproxy({ backends: [pool], ...(opts.socketPath ? { socketPath: opts.socketPath } : {}), config: ({ dir, socketLine, ports }) => templateConfig(pool, dir, socketLine, ports[pool]!) });
}

/** gridhost.yaml for a gridhost that drives `hx`. */
export function haproxyGridhostYaml(hx: HaproxyFixture, reconcile = '1s'): string {
  return `haproxy:\n  socket: ${hx.socket}\n  reconcile_interval: ${reconcile}\n`;
}

/** The policy of a pool of 2 to 4 local guests (template hx.local.yaml) behind HAProxy, whose one
 *  rule never fires; `drainTimeout` (default 2s) and `check` (balancer.check's YAML lines) vary. */
export function haproxyPoolPolicy(pool: string, o: { drainTimeout?: string; check?: string } = {}): string {
  return `pool: ${pool}
min: 2
max: 4
guest:
  driver: local
  template: hx.local.yaml
  image: images/web
  boot_timeout: 20s
  stop_timeout: 2s
  drain_timeout: ${o.drainTimeout ?? '2s'}
balancer:
  driver: haproxy
${o.check ?? ''}sampling:
  interval: 500ms
  window: 10s
rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 100000
    step: +1
`;
}

/** gridhost's servers in a backend, as HAProxy lists them (name -> address), from the test's own socket. */
export async function haproxyServers(hx: HaproxyFixture, backend: string): Promise<Map<string, string>> {
  const rows = await hx.admin.serversState(backend);
  return new Map(rows.filter((r) => r.name.startsWith('gh-')).map((r) => [r.name, `${r.addr}:${r.port}${r.maint ? ' maint' : r.drain ? ' drain' : ''}`]));
}
