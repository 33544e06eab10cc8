// In-memory Store fake for unit tests of callers: same semantics as the real stores (it passes
// the same contract tests), copies on the way in and out so callers cannot alias its state,
// and takes injected failures.
import { GridhostError } from '../errors/errors.ts';
import type { Guest, PoolSample, ScaleEvent } from '../domain/types.ts';
import type { EventFilter, GuestFilter, PoolRecord, Store } from './store.ts';
import { clampEventLimit, compareGuests, FINISHED_STATES, storeError, withoutUndefined } from './store-common.ts';

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
  private readonly guests = new Map<string, Guest>();
  private readonly events: ScaleEvent[] = [];
  private readonly samples: { pool: string; sample: PoolSample }[] = [];
  private readonly failures = new Map<StoreMethod, GridhostError[]>();
  private nextEventId = 1;
  private closed = false;

  /** The next call of `method` rejects with `error` (default: a GH_STORE_FAILED) and changes nothing. Queues. */
  failNext(method: StoreMethod, error?: GridhostError): void {
    const q = this.failures.get(method) ?? [];
    q.push(error ?? storeError(this.name, `injected failure in ${method}`, { method }));
    this.failures.set(method, q);
  }

  async upsertPool(p: PoolRecord): Promise<void> {
    this.enter('upsertPool', [p]);
    this.pools.set(p.pool, copy(withoutUndefined(p)));
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

  async putGuest(g: Guest): Promise<void> {
    this.enter('putGuest', [g]);
    this.guests.set(g.id, copy(withoutUndefined(g)));
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

  async appendEvent(e: ScaleEvent): Promise<ScaleEvent> {
    this.enter('appendEvent', [e]);
    const { id: _ignored, ...rest } = withoutUndefined(e);
    const stored = { ...copy(rest), id: this.nextEventId++ };
    this.events.push(stored);
    return copy(stored);
  }

  async updateEvent(id: number | string, outcome: ScaleEvent['outcome'], detail?: string): Promise<void> {
    this.enter('updateEvent', [id, outcome, detail]);
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

  async appendSample(pool: string, s: PoolSample): Promise<void> {
    this.enter('appendSample', [pool, s]);
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
    for (let i = this.events.length - 1; i >= 0; i--) {
      if (this.events[i]!.at < olderThan) {
        this.events.splice(i, 1);
        events++;
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

function copy<T>(v: T): T {
  return structuredClone(v);
}
