// The xen driver's keys in gridhost.yaml: the `xen:` section (xl binary, where rendered configs
// go, the default guest memory) and each dom0's `network:` mapping (its guests' bridge, address
// range, prefix length, gateway and service port). Decoded, defaulted and validated here, each
// problem at its line; the config loader only calls these.
import type { Field, YamlReader } from '../../policy/yaml-reader.ts';
import { DEFAULT_GUEST_NETWORK, networkProblem, parseAddressRange, type GuestNetwork } from './guest-network.ts';
import { hasDotDotSegment } from '../ssh/shell-quote.ts';

export interface XenSettings {
  /** Debian's /usr/sbin/xl is a wrapper script: gridhost calls the real binary. */
  xlPath: string;
  /** Where each dom0 keeps the rendered xl.cfg of gridhost's guests. */
  cfgDir: string;
  /** Value of {{memory}} (MiB) when a template uses it instead of its own `memory =`. */
  memoryMb: number;
}

export const XEN_DEFAULTS: XenSettings = Object.freeze({ xlPath: '/usr/lib/xen-4.17/bin/xl', cfgDir: '/etc/xen/gridhost', memoryMb: 128 });

export const XEN_KEYS = ['xl_path', 'cfg_dir', 'memory_mb'] as const;
export const NETWORK_KEYS = ['bridge', 'addresses', 'prefix_length', 'gateway', 'port'] as const;

const SAFE_PATH = /^\/[A-Za-z0-9_./+-]*$/;
const SAFE_PATH_MSG = 'must be an absolute path of letters, digits and _ . / + - (no "..")';
const BRIDGE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

function path(r: YamlReader, f: Field, def: string): string | undefined {
  const v = r.str(f, { def, pattern: SAFE_PATH, patternMsg: SAFE_PATH_MSG });
  if (v !== undefined && hasDotDotSegment(v)) {
    r.issue(f, SAFE_PATH_MSG, v);
    return undefined;
  }
  return v;
}

/** `xen:` of gridhost.yaml; undefined when a key is invalid (the issue is in `r`). */
export function parseXenSection(r: YamlReader, f: Field): XenSettings | undefined {
  const m = r.map(f, XEN_KEYS);
  if (m === undefined) return f.value === undefined ? XEN_DEFAULTS : undefined;
  const xlPath = path(r, m.get('xl_path'), XEN_DEFAULTS.xlPath);
  const cfgDir = path(r, m.get('cfg_dir'), XEN_DEFAULTS.cfgDir);
  const memoryMb = r.int(m.get('memory_mb'), { def: XEN_DEFAULTS.memoryMb, min: 16, max: 1_048_576 });
  if (xlPath === undefined || cfgDir === undefined || memoryMb === undefined) return undefined;
  return { xlPath, cfgDir, memoryMb };
}

/** A dom0's `network:`; absent = the Xen lab's network (DEFAULT_GUEST_NETWORK). */
export function parseGuestNetwork(r: YamlReader, f: Field): GuestNetwork | undefined {
  const m = r.map(f, NETWORK_KEYS);
  if (m === undefined) return f.value === undefined ? DEFAULT_GUEST_NETWORK : undefined;
  const bridge = r.str(m.get('bridge'), { def: DEFAULT_GUEST_NETWORK.bridge, pattern: BRIDGE_RE, patternMsg: 'must be a Linux interface name (1-15 letters, digits, _ . -)' });
  const port = r.int(m.get('port'), { def: DEFAULT_GUEST_NETWORK.port, min: 1, max: 65535 });
  let range: { first: number; last: number; prefixLength?: number } | undefined = { first: DEFAULT_GUEST_NETWORK.first, last: DEFAULT_GUEST_NETWORK.last };
  const af = m.get('addresses');
  const text = r.str(af);
  if (text !== undefined) {
    const parsed = parseAddressRange(text.trim());
    if ('error' in parsed) {
      r.issue(af, parsed.error, text);
      range = undefined;
    } else range = parsed;
  }
  const pf = m.get('prefix_length');
  const prefixLength = r.int(pf, { def: range?.prefixLength ?? DEFAULT_GUEST_NETWORK.prefixLength, min: 8, max: 30 });
  const gf = m.get('gateway');
  const gateway = r.str(gf, { pattern: /^\d{1,3}(\.\d{1,3}){3}$/, patternMsg: 'must be an IPv4 address' });
  if (bridge === undefined || port === undefined || range === undefined || prefixLength === undefined || (gf.value !== undefined && gateway === undefined)) return undefined;
  if (range.prefixLength !== undefined && pf.value !== undefined && prefixLength !== range.prefixLength) {
    r.issue(pf, `differs from the /${range.prefixLength} of addresses`, prefixLength);
    return undefined;
  }
  const net: GuestNetwork = { bridge, first: range.first, last: range.last, prefixLength, port };
  if (gateway !== undefined) net.gateway = gateway;
  const problem = networkProblem(net);
  if (problem !== undefined) {
    r.issue(gateway !== undefined && problem.startsWith('gateway') ? gf : af.value !== undefined ? af : m.self, problem);
    return undefined;
  }
  return net;
}
