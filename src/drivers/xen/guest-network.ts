// A dom0's guest network as gridhost hands it out: the bridge the guests' vif joins, the IPv4
// range their addresses come from, the prefix length and gateway they configure, and the port
// their service listens on. Pure: parsing and address arithmetic only.

export interface GuestNetwork {
  /** Bridge on the dom0 the guest's vif joins ({{bridge}}). */
  bridge: string;
  /** Addresses handed out, both ends inclusive, as 32-bit integers. */
  first: number;
  last: number;
  /** Prefix length of the guests' subnet ({{prefix_length}}, {{netmask}} dotted). */
  prefixLength: number;
  /** Default route the guests configure ({{gateway}}); absent on a flat network. */
  gateway?: string;
  /** Port the guest's service listens on: the guest's address is ip:port. */
  port: number;
}

/** The Xen lab's network (scripts/xen-lab): bridge xenbr0, 192.168.100.0/24, dom0 at .1. */
export const DEFAULT_GUEST_NETWORK: GuestNetwork = Object.freeze({
  bridge: 'xenbr0',
  first: ipv4ToInt('192.168.100.10') as number,
  last: ipv4ToInt('192.168.100.250') as number,
  prefixLength: 24,
  port: 80,
});

/** 32-bit value of a dotted quad; undefined unless it is exactly four decimal octets. */
export function ipv4ToInt(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255) || m.slice(1).some((x) => x.length > 1 && x.startsWith('0'))) return undefined;
  return (((o[0] as number) << 24) >>> 0) + ((o[1] as number) << 16) + ((o[2] as number) << 8) + (o[3] as number);
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function netmaskOf(prefixLength: number): string {
  return intToIpv4(prefixLength === 0 ? 0 : (~0 << (32 - prefixLength)) >>> 0);
}

const inSubnet = (ip: number, base: number, prefixLength: number): boolean => prefixLength === 0 || ip >>> (32 - prefixLength) === base >>> (32 - prefixLength);

/**
 * `A.B.C.D-E.F.G.H` (both inclusive) or a CIDR `A.B.C.D/P` (every host address but the subnet's
 * first and last, and the gateway). Returns the range or the reason it is not one.
 */
export function parseAddressRange(text: string): { first: number; last: number; prefixLength?: number } | { error: string } {
  const cidr = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (cidr) {
    const base = ipv4ToInt(cidr[1] as string);
    const p = Number(cidr[2]);
    if (base === undefined || p > 30 || p < 8) return { error: 'must be A.B.C.D/P with P from 8 to 30, or FIRST-LAST addresses' };
    const net = (base & ((~0 << (32 - p)) >>> 0)) >>> 0; // p is 8..30: the shift is in range
    const size = 2 ** (32 - p);
    return { first: net + 1, last: net + size - 2, prefixLength: p };
  }
  const parts = text.split('-');
  if (parts.length !== 2) return { error: 'must be FIRST-LAST addresses (192.168.100.10-192.168.100.250) or a CIDR subnet (192.168.100.0/24)' };
  const [a, b] = parts.map((x) => ipv4ToInt(x.trim()));
  if (a === undefined || b === undefined) return { error: 'must be two IPv4 addresses, FIRST-LAST (192.168.100.10-192.168.100.250)' };
  if (a > b) return { error: 'its first address is after its last' };
  return { first: a, last: b };
}

/** Why a network's parts do not fit together, or undefined when they do. */
export function networkProblem(n: GuestNetwork): string | undefined {
  const base = n.first;
  if (!inSubnet(n.last, base, n.prefixLength)) return `the addresses ${intToIpv4(n.first)}-${intToIpv4(n.last)} are not in one /${n.prefixLength} subnet`;
  if (n.gateway !== undefined) {
    const gw = ipv4ToInt(n.gateway);
    if (gw === undefined) return `gateway ${n.gateway} is not an IPv4 address`;
    if (!inSubnet(gw, base, n.prefixLength)) return `gateway ${n.gateway} is outside the guests' subnet ${intToIpv4(n.first)}/${n.prefixLength}`;
  }
  return undefined;
}

/** The lowest address of the network not in `taken` (nor the gateway); undefined when all are taken. */
export function freeGuestIp(n: GuestNetwork, taken: ReadonlySet<string>): string | undefined {
  for (let x = n.first; x <= n.last; x++) {
    const ip = intToIpv4(x);
    if (ip !== n.gateway && !taken.has(ip)) return ip;
  }
  return undefined;
}

export function rangesOverlap(a: GuestNetwork, b: GuestNetwork): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function describeRange(n: GuestNetwork): string {
  return `${intToIpv4(n.first)}-${intToIpv4(n.last)}`;
}

/** Template placeholders the network gives a guest (gateway only when there is one). */
export function networkVars(n: GuestNetwork): Record<string, string | number> {
  const v: Record<string, string | number> = { bridge: n.bridge, prefix_length: n.prefixLength, netmask: netmaskOf(n.prefixLength), port: n.port };
  if (n.gateway !== undefined) v['gateway'] = n.gateway;
  return v;
}
