// The haproxy driver's keys: `haproxy:` in gridhost.yaml (how to reach HAProxy) and its keys
// of a policy's `balancer:` section. Decode -> defaults -> validate, every problem reported
// at its line; pure (the registry in balancer-keys.ts lists it for the generic parsers).
import type { Fields, Field, YamlReader } from '../../../policy/yaml-reader.ts';
import type { BalancerKeys } from '../balancer-keys.ts';
import { HAPROXY_NAME_RE, parseSocketAddress } from './runtime-address.ts';

// GridhostConfig.drivers.haproxy: this driver's gridhost.yaml section, typed for its create().
declare module '../../../config/config-types.ts' {
  interface DriverSettings {
    /** HAProxy's runtime API, for pools with `balancer.driver: haproxy`; absent = none. */
    haproxy?: HaproxyConfig;
  }
}
// Policy.balancer.backend: this driver's key of a pool's `balancer:` section.
declare module '../../../domain/policy.ts' {
  interface BalancerDriverSettings {
    /** haproxy: the pool's backend in haproxy.cfg (default: the pool's name). */
    backend?: string;
  }
}

export interface HaproxyConfig {
  /** The stats socket at admin level: a unix path or host:port (as haproxy.cfg's `stats socket`). */
  socket: string;
  /** One runtime-API command's limit. */
  timeoutMs: number;
  /** How often backends are compared with what gridhost registered (lost servers come back within it). */
  reconcileMs: number;
  /** Servers gridhost creates are named `<prefix><guest id>`; it never touches others. */
  serverPrefix: string;
}

export const HAPROXY_CONFIG_KEYS = ['socket', 'timeout', 'reconcile_interval', 'server_prefix'] as const;
export const HAPROXY_CONFIG_DEFAULTS: Omit<HaproxyConfig, 'socket'> = Object.freeze({ timeoutMs: 5000, reconcileMs: 2000, serverPrefix: 'gh-' });
const PREFIX_RE = /^[A-Za-z][A-Za-z0-9_.:-]{0,15}$/;

/** gridhost.yaml's `haproxy:` section; undefined when absent or invalid (issues say why). */
export function parseHaproxyConfig(r: YamlReader, f: Field): HaproxyConfig | undefined {
  const m = r.map(f, HAPROXY_CONFIG_KEYS);
  if (m === undefined) return undefined;
  const sf = m.get('socket');
  const socket = r.str(sf, { required: true });
  if (socket !== undefined && parseSocketAddress(socket) === undefined) {
    r.issue(sf, 'must be the path of a unix socket (/run/haproxy/admin.sock) or host:port, as the `stats socket` line of haproxy.cfg says', socket);
  }
  const timeoutMs = r.duration(m.get('timeout'), { def: HAPROXY_CONFIG_DEFAULTS.timeoutMs, positive: true });
  const reconcileMs = r.duration(m.get('reconcile_interval'), { def: HAPROXY_CONFIG_DEFAULTS.reconcileMs, positive: true });
  if (reconcileMs !== undefined && reconcileMs < 100) r.issue(m.get('reconcile_interval'), 'must be at least 100ms (each pass asks HAProxy for every backend)');
  const serverPrefix = r.str(m.get('server_prefix'), {
    def: HAPROXY_CONFIG_DEFAULTS.serverPrefix,
    pattern: PREFIX_RE,
    patternMsg: 'must be 1-16 letters, digits, "-", "_", ".", ":" starting with a letter (it starts the name of every server gridhost creates)',
  });
  if (socket === undefined || parseSocketAddress(socket) === undefined || timeoutMs === undefined || reconcileMs === undefined || reconcileMs < 100 || serverPrefix === undefined) return undefined;
  return { socket, timeoutMs, reconcileMs, serverPrefix };
}

/**
 * A haproxy pool's `balancer:` keys: `backend` (default: the pool's name). The front end, the
 * response timeout and the check timeout are haproxy.cfg's, so `listen`, `response_timeout`
 * and `check.timeout` are refused with where to set them instead.
 */
export function parseHaproxyPolicy(r: YamlReader, bal: Fields | undefined, chk: Fields | undefined, pool: string | undefined): { backend: string } | undefined {
  if (chk?.has('timeout')) r.issue(chk.get('timeout'), 'HAProxy takes the check timeout from haproxy.cfg: set `timeout check` in the pool\'s backend there');
  const backend = bal ? r.str(bal.get('backend'), { pattern: HAPROXY_NAME_RE, patternMsg: 'must be an HAProxy backend name (letters, digits, "-", "_", ".", ":")' }) : undefined;
  if (backend !== undefined) return { backend };
  if (bal?.has('backend')) return undefined;
  return pool === undefined ? undefined : { backend: pool };
}

export const haproxyKeys: BalancerKeys<'haproxy'> = {
  name: 'haproxy',
  policyKeys: ['backend'],
  keyNotes: { backend: 'the pool\'s backend in haproxy.cfg' },
  instead: {
    listen: 'with haproxy the front end is the `bind` line of the pool\'s frontend in haproxy.cfg',
    response_timeout: 'with haproxy set `timeout server` in the pool\'s backend in haproxy.cfg',
    panic_threshold: 'HAProxy has no fail-open mode: with every server down it answers 503',
  },
  parsePolicy: (r, bal, ctx) => parseHaproxyPolicy(r, bal, ctx.check, ctx.pool),
  probe: '{ driver: haproxy, backend: probe_be, check: { interval: 1s, rise: 2, fall: 2 } }',
  config: { name: 'haproxy', keys: ['haproxy'], parse: (r, top) => parseHaproxyConfig(r, top.get('haproxy')) },
};
