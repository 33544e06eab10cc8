// In-memory Store fake for unit tests of callers: same semantics as the real stores (it passes
// the same contract tests), copies on the way in and out so callers cannot alias its state,
// and takes injected failures.
import { GridhostError } from '../errors/errors.ts';
import type { Guest, PoolSample, ScaleEvent } from '../domain/types.ts';
import type { EventFilter, Fence, GuestFilter, Lease, Member, PoolHistoryEntry, PoolRecord, HostRecord, Store } from './store.ts';
import { clampEventLimit, compareGuests, fenced, FINISHED_STATES, leaseLost, staleWrite, storeError, withoutUndefined } from './store-common.ts';

export type StoreMethod = Exclude<keyof Store, 'name'>;

export interface StoreCall {
  method: StoreMethod;
  args: unknown[];
}

export class MemoryStore implements Store {
  readonly name = 'memory';
  /** Every call, in order (arguments as passed). */
  readonly calls: StoreCall[] = [];
  private readonly pools = new Map<string, PoolRecord>();
  private readonly hosts = new Map<string, HostRecord>();
  private readonly guests = new Map<string, Guest>();
  private readonly events: ScaleEvent[] = [];
  private readonly samples: { pool: string; sample: PoolSample }[] = [];
  private readonly failures = new Map<StoreMethod, GridhostError[]>();
  private readonly leases = new Map<string, Lease>();
  private readonly members = new Map<string, Member>();
  private readonly history: PoolHistoryEntry[] = [];
  private nextEventId = 1;
  private closed = false;

  /** `now` is the store's clock for leases and heartbeats. */
  constructor(private readonly now: () => number = Date.now) {}

  /** The next call of `method` rejects with `error` (default: a GH_STORE_FAILED) and changes nothing. Queues. */
  failNext(method: StoreMethod, error?: GridhostError): void {
    const q = this.failures.get(method) ?? [];
    q.push(error ?? storeError(this.name, `injected failure in ${method}`, { method }));
    this.failures.set(method, q);
  }

  async savePool(p: PoolRecord, fence?: Fence): Promise<PoolRecord> {
    this.enter('savePool', [p, fence]);
    this.checkFence(fence);
    const stored = cas(this.name, 'pool', p.pool, this.pools.get(p.pool), p);
    this.pools.set(p.pool, stored);
    return copy(stored);
  }

  async getPool(pool: string): Promise<PoolRecord | undefined> {
    this.enter('getPool', [pool]);
    const p = this.pools.get(pool);
    return p && copy(p);
  }

  async listPools(): Promise<PoolRecord[]> {
    this.enter('listPools', []);
    return [...this.pools.values()].sort((a, b) => (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0)).map(copy);
  }

  async saveHost(h: HostRecord): Promise<HostRecord> {
    this.enter('saveHost', [h]);
    const stored = cas(this.name, 'host', h.host, this.hosts.get(h.host), h);
    this.hosts.set(h.host, stored);
    return copy(stored);
  }

  async getHost(host: string): Promise<HostRecord | undefined> {
    this.enter('getHost', [host]);
    const h = this.hosts.get(host);
    return h && copy(h);
  }

  async listHosts(): Promise<HostRecord[]> {
    this.enter('listHosts', []);
    return [...this.hosts.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)).map(copy);
  }

  async saveGuest(g: Guest, fence?: Fence): Promise<Guest> {
    this.enter('saveGuest', [g, fence]);
    this.checkFence(fence);
    const stored = cas(this.name, 'guest', g.id, this.guests.get(g.id), g);
    this.guests.set(g.id, stored);
    return copy(stored);
  }

  async getGuest(id: string): Promise<Guest | undefined> {
    this.enter('getGuest', [id]);
    const g = this.guests.get(id);
    return g && copy(g);
  }

  async listGuests(filter: GuestFilter = {}): Promise<Guest[]> {
    this.enter('listGuests', [filter]);
    return [...this.guests.values()]
      .filter((g) => (filter.pool === undefined || g.pool === filter.pool) && (filter.states === undefined || filter.states.includes(g.state)))
      .sort(compareGuests)
      .map(copy);
  }

  async appendEvent(e: ScaleEvent, fence?: Fence): Promise<ScaleEvent> {
    this.enter('appendEvent', [e, fence]);
    this.checkFence(fence);
    const { id: _ignored, ...rest } = withoutUndefined(e);
    const stored = { ...copy(rest), id: this.nextEventId++ };
    this.events.push(stored);
    return copy(stored);
  }

  async updateEvent(id: number | string, outcome: ScaleEvent['outcome'], detail?: string, fence?: Fence): Promise<void> {
    this.enter('updateEvent', [id, outcome, detail, fence]);
    this.checkFence(fence);
    const ev = this.events.find((x) => String(x.id) === String(id));
    if (!ev) throw storeError(this.name, `no event with id ${JSON.stringify(id)}`, { id });
    ev.outcome = outcome;
    if (detail !== undefined) ev.detail = detail;
  }

  async listEvents(filter: EventFilter = {}): Promise<ScaleEvent[]> {
    this.enter('listEvents', [filter]);
    return this.events
      .filter((e) => filter.pool === undefined || e.pool === filter.pool)
      .sort((a, b) => b.at - a.at || (b.id as number) - (a.id as number))
      .slice(0, clampEventLimit(filter.limit))
      .map(copy);
  }

  async acquireLease(pool: string, holder: string, ttlMs: number, api?: string): Promise<Lease | undefined> {
    this.enter('acquireLease', [pool, holder, ttlMs]);
    const now = this.now();
    const cur = this.leases.get(pool);
    if (cur && cur.holder !== holder && cur.expiresAt > now) return undefined;
    if (cur && cur.holder === holder) {
      cur.expiresAt = now + ttlMs;
      if (api !== undefined) cur.api = api;
      else delete cur.api;
      return copy(cur);
    }
    const lease: Lease = { pool, holder, token: (cur?.token ?? 0) + 1, acquiredAt: now, expiresAt: now + ttlMs, ...(api !== undefined ? { api } : {}) };
    this.leases.set(pool, lease);
    const detail = cur ? `after ${cur.holder} (token ${cur.token}, ${cur.expiresAt === 0 ? 'released' : 'expired'})` : 'first holder';
    this.pushHistory({ pool, at: now, kind: 'lease-acquired', holder, token: lease.token, detail });
    return copy(lease);
  }

  async renewLease(pool: string, holder: string, token: number, ttlMs: number): Promise<Lease> {
    this.enter('renewLease', [pool, holder, token, ttlMs]);
    const cur = this.leases.get(pool);
    if (!cur || cur.holder !== holder || cur.token !== token) throw leaseLost(this.name, pool, holder, token, cur);
    cur.expiresAt = this.now() + ttlMs;
    return copy(cur);
  }

  async releaseLease(pool: string, holder: string, token: number): Promise<void> {
    this.enter('releaseLease', [pool, holder, token]);
    const cur = this.leases.get(pool);
    if (!cur || cur.holder !== holder || cur.token !== token || cur.expiresAt === 0) return;
    cur.expiresAt = 0;
    this.pushHistory({ pool, at: this.now(), kind: 'lease-released', holder, token });
  }

  async getLease(pool: string): Promise<Lease | undefined> {
    this.enter('getLease', [pool]);
    const l = this.leases.get(pool);
    return l && copy(l);
  }

  async listLeases(): Promise<Lease[]> {
    this.enter('listLeases', []);
    return [...this.leases.values()].sort((a, b) => (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0)).map(copy);
  }

  async heartbeat(member: { id: string; api?: string; pools: readonly string[] }, ttlMs: number): Promise<void> {
    this.enter('heartbeat', [member, ttlMs]);
    const now = this.now();
    const cur = this.members.get(member.id);
    this.members.set(member.id, withoutUndefined({ id: member.id, api: member.api, pools: [...member.pools], startedAt: cur?.startedAt ?? now, expiresAt: now + ttlMs }));
  }

  async listMembers(): Promise<Member[]> {
    this.enter('listMembers', []);
    const now = this.now();
    return [...this.members.values()].filter((m) => m.expiresAt > now).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(copy);
  }

  async removeMember(id: string): Promise<void> {
    this.enter('removeMember', [id]);
    this.members.delete(id);
  }

  async appendHistory(e: PoolHistoryEntry, fence?: Fence): Promise<PoolHistoryEntry> {
    this.enter('appendHistory', [e, fence]);
    this.checkFence(fence);
    return copy(this.pushHistory(e));
  }

  private pushHistory(e: PoolHistoryEntry): PoolHistoryEntry {
    const { id: _ignored, ...rest } = withoutUndefined(e);
    const stored = { ...copy(rest), id: this.nextEventId++ };
    this.history.push(stored);
    return stored;
  }

  async listHistory(filter: EventFilter = {}): Promise<PoolHistoryEntry[]> {
    this.enter('listHistory', [filter]);
    return this.history
      .filter((e) => filter.pool === undefined || e.pool === filter.pool)
      .sort((a, b) => b.at - a.at || (b.id as number) - (a.id as number))
      .slice(0, clampEventLimit(filter.limit))
      .map(copy);
  }

  private checkFence(fence: Fence | undefined): void {
    if (!fence) return;
    const cur = this.leases.get(fence.pool);
    if (!cur || cur.token !== fence.token) throw fenced(this.name, fence.pool, fence.token, cur?.token);
  }

  async appendSample(pool: string, s: PoolSample, fence?: Fence): Promise<void> {
    this.enter('appendSample', [pool, s, fence]);
    this.checkFence(fence);
    this.samples.push({ pool, sample: copy(s) });
  }

  async listSamples(pool: string, since?: number, until?: number): Promise<PoolSample[]> {
    this.enter('listSamples', [pool, since, until]);
    return this.samples
      .filter((x) => x.pool === pool && (since === undefined || x.sample.at >= since) && (until === undefined || x.sample.at <= until))
      .map((x) => x.sample)
      .sort((a, b) => a.at - b.at) // stable: equal times keep insertion order
      .map(copy);
  }

  async pruneSamples(olderThan: number): Promise<number> {
    this.enter('pruneSamples', [olderThan]);
    let removed = 0;
    for (let i = this.samples.length - 1; i >= 0; i--) {
      if (this.samples[i]!.sample.at < olderThan) {
        this.samples.splice(i, 1);
        removed++;
      }
    }
    return removed;
  }

  async pruneHistory(olderThan: number): Promise<{ guests: number; events: number }> {
    this.enter('pruneHistory', [olderThan]);
    let guests = 0;
    for (const [id, g] of this.guests) {
      if (FINISHED_STATES.includes(g.state) && g.updatedAt < olderThan) {
        this.guests.delete(id);
        guests++;
      }
    }
    let events = 0;
    for (const list of [this.events, this.history] as { at: number }[][]) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i]!.at < olderThan) {
          list.splice(i, 1);
          events++;
        }
      }
    }
    return { guests, events };
  }

  async close(): Promise<void> {
    this.enter('close', []);
    this.closed = true;
  }

  private enter(method: StoreMethod, args: unknown[]): void {
    this.calls.push({ method, args });
    const injected = this.failures.get(method)?.shift();
    if (injected) throw injected;
    if (this.closed && method !== 'close') throw storeError(this.name, `${method} called after close`, { op: method });
  }
}

/** Create (no version) or compare-and-set (version): the record to store, with its new version. */
function cas<T extends { version?: number }>(store: string, what: string, id: string, cur: T | undefined, next: T): T {
  const expected = next.version;
  if (expected === undefined ? cur !== undefined : cur?.version !== expected) throw staleWrite(store, what, id, expected, cur?.version);
  return { ...copy(withoutUndefined(next)), version: (expected ?? 0) + 1 };
}

function copy<T>(v: T): T {
  return structuredClone(v);
}
