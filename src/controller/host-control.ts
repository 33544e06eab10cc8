// drain-host / undrain-host (issue 14, host evacuation): an operator closes a hypervisor host for
// maintenance. The host record in the store says so (compare-and-set; any process may take the
// request, hosts have no leader); every pool's leader reads it at its next tick: placement skips
// the host, and each pool moves its guests off it one at a time without dropping below its size
// (evacuation.ts). The host stays closed until undrain-host, also once it is empty.
import type { Guest } from '../domain/types.ts';
import { LIVE_STATES } from '../domain/types.ts';
import type { Hypervisor } from '../drivers/hypervisor/hypervisor.ts';
import { GridhostError } from '../errors/errors.ts';
import type { HostRecord, Store } from '../store/store.ts';
import type { Clock } from './clock.ts';
import type { OperatorRequest } from './operator.ts';
import type { Telemetry } from './telemetry.ts';

export interface HostControlDeps {
  store: Store;
  clock: Clock;
  telemetry: Telemetry;
  hypervisors: readonly Hypervisor[];
}

/** open: takes guests; draining: closed, guests of some pool still on it; drained: closed and empty. */
export type HostState = 'open' | 'draining' | 'drained';

export interface HostView {
  host: string;
  driver: string;
  state: HostState;
  drain?: HostRecord['drain'];
  /** Live guests on it, by pool. */
  guests: { pool: string; id: string; state: Guest['state'] }[];
}

export interface HostChange {
  host: HostView;
  /** False when the host already was in the requested state. */
  changed: boolean;
}

/** The state a host is in, from its record and the live guests on it. Pure. */
export function hostStateOf(rec: Pick<HostRecord, 'drain'> | undefined, liveGuestsOnIt: number): HostState {
  if (rec?.drain === undefined) return 'open';
  return liveGuestsOnIt > 0 ? 'draining' : 'drained';
}

export class HostControl {
  constructor(private readonly d: HostControlDeps) {}

  /** Every host a driver places on, with the driver's name, sorted. */
  private known(): Map<string, string> {
    const out = new Map<string, string>();
    for (const hv of this.d.hypervisors) for (const h of hv.hostNames()) if (!out.has(h)) out.set(h, hv.name);
    return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
  }

  private driverOf(host: string): string {
    const driver = this.known().get(host);
    if (driver === undefined) {
      throw new GridhostError('GH_HOST_UNKNOWN', `host ${JSON.stringify(host)} is not one gridhost places guests on (known: ${[...this.known().keys()].join(', ') || 'none'})`, { host });
    }
    return driver;
  }

  async list(): Promise<HostView[]> {
    const [records, guests] = await Promise.all([this.d.store.listHosts(), this.d.store.listGuests({ states: LIVE_STATES })]);
    const byName = new Map(records.map((r) => [r.host, r]));
    return [...this.known()].map(([host, driver]) => this.view(host, driver, byName.get(host), guests));
  }

  async get(host: string): Promise<HostView> {
    const driver = this.driverOf(host);
    const [rec, guests] = await Promise.all([this.d.store.getHost(host), this.d.store.listGuests({ states: LIVE_STATES })]);
    return this.view(host, driver, rec, guests);
  }

  private view(host: string, driver: string, rec: HostRecord | undefined, all: readonly Guest[]): HostView {
    const guests = all.filter((g) => g.host === host).map((g) => ({ pool: g.pool, id: g.id, state: g.state }));
    return { host, driver, state: hostStateOf(rec, guests.length), ...(rec?.drain ? { drain: { ...rec.drain } } : {}), guests };
  }

  /** Close the host for placement and move every pool's guests off it. */
  async drain(host: string, req: OperatorRequest): Promise<HostChange> {
    this.driverOf(host);
    const changed = await this.write(host, (rec) => (rec?.drain ? undefined : { by: req.by, reason: req.reason, at: this.d.clock.now() }));
    if (changed) this.d.telemetry.info(`host ${host} drained by ${req.by}: closed for placement, its guests move off`, { host, by: req.by, reason: req.reason, event: 'drain-host' });
    return { host: await this.get(host), changed };
  }

  /** Open the host for placement again (guests already moved stay where they are). */
  async undrain(host: string, req: OperatorRequest): Promise<HostChange> {
    this.driverOf(host);
    const changed = await this.write(host, (rec) => (rec?.drain ? null : undefined));
    if (changed) this.d.telemetry.info(`host ${host} undrained by ${req.by}: open for placement`, { host, by: req.by, reason: req.reason, event: 'undrain-host' });
    return { host: await this.get(host), changed };
  }

  /** Compare-and-set the host's drain: `next` returns the new drain, null (open it) or undefined
   *  (no change). A write that lost a race is decided again on the fresh record. */
  private async write(host: string, next: (rec: HostRecord | undefined) => HostRecord['drain'] | null | undefined): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const rec = await this.d.store.getHost(host);
      const drain = next(rec);
      if (drain === undefined) return false;
      const out: HostRecord = { host, updatedAt: this.d.clock.now(), ...(drain ? { drain } : {}), ...(rec?.version !== undefined ? { version: rec.version } : {}) };
      try {
        await this.d.store.saveHost(out);
        return true;
      } catch (e) {
        if (!(e instanceof GridhostError && e.code === 'GH_STALE_WRITE') || attempt >= 3) throw e;
      }
    }
  }
}
