// The xen driver's keys: in gridhost.yaml the `xen:` section (xl binary, where rendered configs
// go, the default guest memory) and `dom0s:` (each host, its pinned key and its guests' network:
// bridge, address range, prefix length, gateway and service port); in a policy, how `guest.image`
// names a disk on dom0 and the clone methods it supports. Decoded, defaulted and validated here,
// each problem at its line; the generic parsers find it through hypervisor-keys.ts. Pure.
import type { Field, Fields, YamlReader } from '../../policy/yaml-reader.ts';
import type { ConfigContext } from '../driver-keys.ts';
import { parseXenCredit, parseXenVertical, XEN_GUEST_POLICY_KEYS } from './xen-policy-keys.ts';
import type { HypervisorKeys } from '../hypervisor/hypervisor-keys.ts';
import { DEFAULT_GUEST_NETWORK, networkProblem, parseAddressRange, rangesOverlap, type GuestNetwork } from './guest-network.ts';
import { hasDotDotSegment } from '../ssh/shell-quote.ts';

// GridhostConfig.drivers.xen: this driver's gridhost.yaml sections, typed for its create().
declare module '../../config/config-types.ts' {
  interface DriverSettings {
    /** The xen driver: its dom0s and settings; absent when gridhost.yaml has neither `xen:` nor `dom0s:`. */
    xen?: XenDriverSettings;
  }
}

export interface Dom0Config {
  /** Name used in logs and placement ("dom0-a"). */
  name: string;
  address: string;
  port: number;
  user: string;
  /** Path to a private key file; when absent the SSH agent (SSH_AUTH_SOCK) is used. */
  privateKeyPath?: string;
  /** Pinned host key fingerprint, `SHA256:<base64>` as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /**
   * How gridhost reaches this dom0's guests (health, metrics, balancer traffic): `ssh` through
   * the dom0's SSH connection (absent = ssh), or `routed` when their network is routable from here.
   */
  guestNetwork?: 'routed' | 'ssh';
  /** The dom0's guest network (bridge, addresses, prefix, gateway, service port); absent = the Xen lab's. */
  network?: GuestNetwork;
  /** Storage group: dom0s naming the same one reach guests' disks at the same paths and share
   *  their network, so drain-host moves guests between them live (xl migrate). */
  storage?: string;
  /** Where the other dom0s' xl migrate reaches this one (ssh); absent = `address`. */
  migrateTo?: string;
}

/** `xen:` (defaults when absent) and the hosts of `dom0s:` (none = the driver is not started). */
export interface XenDriverSettings extends XenSettings {
  dom0s: Dom0Config[];
}

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
export const DOM0_KEYS = ['name', 'address', 'port', 'user', 'private_key_path', 'host_key_fingerprint', 'guest_network', 'network', 'storage', 'migrate_to'] as const;
const GUEST_NETWORKS = ['ssh', 'routed'] as const;
const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}=?$/;
/** A dom0 path goes into commands run over SSH: allow only plainly safe characters. */
const DOM0_PATH_RE = /^\/[A-Za-z0-9._/@+:=,-]*$/;
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

/** `dom0s:` of gridhost.yaml: each host once, routed ones with address ranges of their own. */
export function parseDom0s(r: YamlReader, f: Field, ctx: ConfigContext): Dom0Config[] {
  const items = r.seq(f, { what: 'dom0 hosts' }) ?? [];
  const dom0s: Dom0Config[] = [];
  const seen = new Map<string, string>();
  for (const item of items) {
    const m = r.map(item, DOM0_KEYS, { required: true });
    if (m === undefined) continue;
    const name = r.str(m.get('name'), {
      required: true,
      pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
      patternMsg: 'must be 1-63 letters, digits, ".", "_" or "-" (it appears in logs and guest records)',
    });
    if (name !== undefined) {
      const first = seen.get(name);
      if (first !== undefined) r.issue(m.get('name'), `duplicate dom0 name; ${first} already uses it`);
      else seen.set(name, item.path);
    }
    const address = r.str(m.get('address'), {
      required: true,
      pattern: /^[A-Za-z0-9][A-Za-z0-9.:-]*$/,
      patternMsg: 'must be a host name or IP address',
    });
    const port = r.int(m.get('port'), { def: 22, min: 1, max: 65535 });
    const user = r.str(m.get('user'), { def: 'root', pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternMsg: 'must be a plain user name' });
    const key = r.str(m.get('private_key_path'));
    if (key === '') r.issue(m.get('private_key_path'), 'must be a non-empty path (leave it out to use the SSH agent)');
    const fp = r.str(m.get('host_key_fingerprint'), {
      required: true,
      pattern: FINGERPRINT_RE,
      patternMsg: 'must be SHA256:<43 base64 characters>, as printed by `ssh-keygen -lf <host key>`',
    });
    const net = r.oneOf(m.get('guest_network'), GUEST_NETWORKS);
    const network = m.has('network') ? parseGuestNetwork(r, m.get('network')) : undefined;
    const storage = r.str(m.get('storage'), { pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, patternMsg: 'must name a storage group: 1-63 letters, digits, ".", "_" or "-"' });
    const migrateTo = r.str(m.get('migrate_to'), { pattern: /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/, patternMsg: 'must be a host name or IPv4 address the other dom0s reach this one at' });
    if (migrateTo !== undefined && storage === undefined) r.issue(m.get('migrate_to'), 'is only used for live migration between dom0s of one storage group: set storage too');
    if (name !== undefined && address !== undefined && port !== undefined && user !== undefined && fp !== undefined) {
      const dom0: Dom0Config = { name, address, port, user, hostKeyFingerprint: fp };
      if (key) dom0.privateKeyPath = ctx.resolvePath(key);
      if (net) dom0.guestNetwork = net;
      if (network) dom0.network = network;
      if (storage !== undefined) dom0.storage = storage;
      if (migrateTo !== undefined) dom0.migrateTo = migrateTo;
      // Routed guests are told apart by address alone: two dom0s may not hand out the same one.
      const clash = net === 'routed' ? dom0s.find((o) => o.guestNetwork === 'routed' && rangesOverlap(o.network ?? DEFAULT_GUEST_NETWORK, network ?? DEFAULT_GUEST_NETWORK)) : undefined;
      if (clash) r.issue(m.has('network') ? m.get('network') : m.get('guest_network'), `its guest addresses overlap dom0 ${clash.name}'s; routed guests need an address range of their own per dom0 (network.addresses)`);
      else dom0s.push(dom0);
    }
  }
  return dom0s;
}

/** gridhost.yaml's `xen:` and `dom0s:`; undefined when either has an issue, or no dom0 is listed (no xen driver then). */
function parseXenDriver(r: YamlReader, top: Fields, ctx: ConfigContext): XenDriverSettings | undefined {
  const before = r.issues.length;
  const xen = top.has('xen') ? parseXenSection(r, top.get('xen')) : XEN_DEFAULTS;
  const dom0s = parseDom0s(r, top.get('dom0s'), ctx);
  return xen === undefined || r.issues.length > before || dom0s.length === 0 ? undefined : { ...xen, dom0s };
}

/** A guest's image is a path on dom0: not checked here, but it reaches a remote command line. */
function parseXenImage(r: YamlReader, f: Field): string | undefined {
  const image = r.str(f, {
    required: true,
    pattern: DOM0_PATH_RE,
    patternMsg: 'a xen image is an absolute path on dom0 made of letters, digits and ._/@+:=,- only (it is passed to remote commands)',
  });
  if (image !== undefined && hasDotDotSegment(image)) {
    r.issue(f, 'a xen image path must not contain ".."');
    return undefined;
  }
  return image;
}

export const xenKeys: HypervisorKeys<'xen'> = {
  name: 'xen',
  clones: ['auto', 'reflink', 'copy', 'lvm-snapshot', 'qcow2'],
  image: (r, f) => parseXenImage(r, f),
  policyKeys: XEN_GUEST_POLICY_KEYS,
  guestKeys: (r, g) => {
    const credit = parseXenCredit(r, g.get('credit'));
    const vertical = parseXenVertical(r, g.get('vertical'));
    return { ...(credit ? { credit } : {}), ...(vertical ? { vertical } : {}) };
  },
  config: { name: 'xen', keys: ['xen', 'dom0s'], parse: parseXenDriver },
};
