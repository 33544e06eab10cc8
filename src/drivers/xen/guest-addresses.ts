// Which guest IPs and MACs are taken on a dom0 (guest-network.ts picks a free one). Pure: the
// driver gathers the inputs (`xl list -l`, gridhost's rendered configs) over SSH.
import type { XlDomain } from './xl-parse.ts';

export interface TakenAddresses {
  ips: Set<string>;
  macs: Set<string>;
}

/** Addresses in use by running domains (IP from `guestip=`/`ip=` on their kernel command line)
 *  and reserved by gridhost's configs (`# gridhost.ip` / `.mac` headers, written before create). */
export function takenAddresses(domains: readonly XlDomain[], cfgHeaders: Iterable<Record<string, string>>): TakenAddresses {
  const ips = new Set<string>();
  const macs = new Set<string>();
  for (const d of domains) {
    d.macs.forEach((m) => macs.add(m.toLowerCase()));
    const m = /(?:^|\s)(?:guestip|ip)=([0-9.]+)/.exec(d.cmdline ?? '');
    if (m?.[1]) ips.add(m[1]);
  }
  for (const h of cfgHeaders) {
    if (h['ip']) ips.add(h['ip']);
    if (h['mac']) macs.add(h['mac'].toLowerCase());
  }
  return { ips, macs };
}
