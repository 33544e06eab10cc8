// In-memory Hypervisor for unit tests of its callers (the controller): records every call,
// keeps guests in a map, and lets a test inject errors or hold a call until it releases it.
import type { Guest, HostSample } from '../../domain/types.ts';
import type { Policy } from '../../domain/policy.ts';
import { GridhostError } from '../../errors/errors.ts';
import type { DiscoveredGuest, GuestSpec, Hypervisor, StepResult } from './hypervisor.ts';

export type HypervisorMethod = 'clone' | 'boot' | 'stop' | 'deleteClone' | 'discover' | 'gone' | 'close' | 'reapply' | 'pause' | 'unpause' | 'resize';

export interface FakeCall {
  method: HypervisorMethod;
  /** Guest id ('' for discover/close). */
  id: string;
  /** The guest record passed to stop/deleteClone (what the caller knew about it). */
  guest?: Guest;
}

/** What the fake knows about one guest. */
export interface FakeGuest {
  id: string;
  pool: string;
  cloned: boolean;
  running: boolean;
  /** Paused (the warm pool): running, but answering nothing. */
  paused?: boolean;
  address?: string;
  /** Where clone() placed it. */
  host?: string;
  meta: Record<string, string>;
}

/** Decides whether a call fails: return an error to throw, or undefined to let it through. */
export type FailurePredicate = (method: HypervisorMethod, id: string) => GridhostError | undefined;

export interface FakeHypervisorOptions {
  name?: string;
  /** Address for a booted guest; default 127.0.0.1:<10000 + n>. */
  addressFor?: (spec: GuestSpec) => string;
  /** Hosts it places on (default one, "fakehost"): the one with the fewest of the pool's guests
   *  that the spec does not avoid (drain-host), else GH_OUT_OF_CAPACITY. */
  hosts?: readonly string[];
  /** Meta every clone gets besides its own (e.g. the size facts of guest.vertical, SIZE_META). */
  cloneMeta?: Record<string, string>;
}

export class FakeHypervisor implements Hypervisor {
  readonly name: string;
  readonly calls: FakeCall[] = [];
  readonly guests = new Map<string, FakeGuest>();
  private readonly addressFor: (spec: GuestSpec) => string;
  private readonly queued = new Map<HypervisorMethod, GridhostError[]>();
  private readonly predicates: FailurePredicate[] = [];
  private readonly holds = new Map<HypervisorMethod, Array<Promise<void>>>();
  private booted = 0;
  private readonly placesOn: readonly string[];
  private readonly cloneMeta: Record<string, string>;
  closed = false;

  constructor(opts: FakeHypervisorOptions = {}) {
    this.name = opts.name ?? 'fake';
    this.placesOn = opts.hosts ?? ['fakehost'];
    this.cloneMeta = opts.cloneMeta ?? {};
    this.addressFor = opts.addressFor ?? (() => `127.0.0.1:${10000 + this.booted}`);
  }

  /** The next call of `method` rejects with `error` (queued: call several times for several). */
  failNext(method: HypervisorMethod, error: GridhostError): this {
    const q = this.queued.get(method) ?? [];
    q.push(error);
    this.queued.set(method, q);
    return this;
  }

  /** Every call for which `predicate` returns an error rejects with it (until cleared). */
  failWhen(predicate: FailurePredicate): this {
    this.predicates.push(predicate);
    return this;
  }

  clearFailures(): void {
    this.queued.clear();
    this.predicates.length = 0;
  }

  /** The next call of `method` waits (after being recorded) until the returned release() is called. */
  holdNext(method: HypervisorMethod): () => void {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = this.holds.get(method) ?? [];
    q.push(gate);
    this.holds.set(method, q);
    return release;
  }

  /** Adds a guest as if it had been left running by an earlier gridhost (for adoption tests). */
  seed(g: Omit<FakeGuest, 'cloned'> & { cloned?: boolean }): void {
    this.guests.set(g.id, { cloned: true, ...g });
  }

  /** Calls of one method, as guest ids in order. */
  callsOf(method: HypervisorMethod): string[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.id);
  }

  hostNames(): readonly string[] {
    return this.placesOn;
  }

  async clone(spec: GuestSpec): Promise<StepResult> {
    await this.enter('clone', spec.id);
    const existing = this.guests.get(spec.id);
    if (existing?.cloned) throw new GridhostError('GH_CLONE_FAILED', `clone of ${spec.id} already exists`, { guest: spec.id });
    const avoid = new Set(spec.avoidHosts ?? []);
    const onHost = (h: string) => [...this.guests.values()].filter((g) => g.pool === spec.pool && g.host === h).length;
    const host = this.placesOn.filter((h) => !avoid.has(h)).sort((a, b) => onHost(a) - onHost(b))[0];
    if (host === undefined) throw new GridhostError('GH_OUT_OF_CAPACITY', `every fake host is closed for placement (${[...avoid].join(', ')})`, { guest: spec.id });
    const meta = { clonePath: `/fake/${spec.pool}/${spec.id}`, cloneMethod: 'copy', ...this.cloneMeta };
    this.guests.set(spec.id, { id: spec.id, pool: spec.pool, cloned: true, running: false, host, meta: { ...meta } });
    return { meta, host };
  }

  async boot(spec: GuestSpec, meta: Record<string, string>): Promise<StepResult> {
    await this.enter('boot', spec.id);
    const g = this.guests.get(spec.id);
    if (!g?.cloned) throw new GridhostError('GH_BOOT_FAILED', `guest ${spec.id} has no clone`, { guest: spec.id });
    if (g.running) throw new GridhostError('GH_NAME_IN_USE', `guest ${spec.id} is already running`, { guest: spec.id });
    this.booted++;
    const address = this.addressFor(spec);
    const bootMeta = { pid: String(1000 + this.booted), port: address.split(':').pop() ?? '' };
    g.running = true;
    g.address = address;
    g.meta = { ...g.meta, ...meta, ...bootMeta };
    return { meta: bootMeta, host: g.host ?? this.placesOn[0]!, address };
  }

  async stop(guest: Guest, _timeoutMs: number): Promise<void> {
    await this.enter('stop', guest.id, guest);
    const g = this.guests.get(guest.id);
    if (g) {
      g.running = false;
      g.paused = false;
    }
  }

  async pause(guest: Guest): Promise<StepResult> {
    await this.enter('pause', guest.id, guest);
    const g = this.guests.get(guest.id);
    if (!g?.running) throw new GridhostError('GH_BOOT_FAILED', `guest ${guest.id} is not running`, { guest: guest.id });
    g.paused = true;
    return { meta: { paused: '1' } };
  }

  async unpause(guest: Guest): Promise<StepResult> {
    await this.enter('unpause', guest.id, guest);
    const g = this.guests.get(guest.id);
    if (!g?.running) throw new GridhostError('GH_BOOT_FAILED', `guest ${guest.id} is not running`, { guest: guest.id });
    g.paused = false;
    return { meta: { paused: '0' } };
  }

  /** Sets the size it is asked for on a running guest (kept in its meta). */
  async resize(guest: Guest, size: { vcpus: number; memoryMb: number }): Promise<StepResult> {
    await this.enter('resize', guest.id, guest);
    const g = this.guests.get(guest.id);
    if (!g?.running) throw new GridhostError('GH_RESIZE_FAILED', `guest ${guest.id} is not running`, { guest: guest.id });
    const meta = { vcpus: String(size.vcpus), memory_mb: String(size.memoryMb) };
    g.meta = { ...g.meta, ...meta };
    return { meta };
  }

  async deleteClone(guest: Guest): Promise<void> {
    await this.enter('deleteClone', guest.id, guest);
    const g = this.guests.get(guest.id);
    if (!g) return;
    if (g.running) {
      g.cloned = false; // a real driver would leave a running guest without its disk
    } else {
      this.guests.delete(guest.id);
    }
  }

  async discover(): Promise<DiscoveredGuest[]> {
    await this.enter('discover', '');
    return [...this.guests.values()]
      .filter((g) => g.cloned || g.running)
      .map((g) => ({ id: g.id, pool: g.pool, host: 'fakehost', meta: { ...g.meta }, running: g.running, ...(g.address ? { address: g.address } : {}) }));
  }

  /** A booted guest dies behind the controller's back (as `kill -9` from outside). */
  crash(id: string): void {
    const g = this.guests.get(id);
    if (!g) throw new Error(`FakeHypervisor: no guest ${id} to crash`);
    g.running = false;
  }

  async gone(guests: readonly Guest[]): Promise<Set<string>> {
    await this.enter('gone', '');
    return new Set(guests.filter((x) => this.guests.get(x.id)?.running !== true).map((x) => x.id));
  }

  /** Records the call; says what it set (the policy's guest.credit, as the Xen driver's meta). */
  async reapply(guest: Guest, policy: Policy): Promise<Record<string, string>> {
    await this.enter('reapply', guest.id, guest);
    const c = policy.guest.credit;
    if (!c) return {};
    return { ...(c.weight !== undefined ? { creditWeight: String(c.weight) } : {}), ...(c.cap !== undefined ? { creditCap: String(c.cap) } : {}) };
  }

  /** What hostFacts() answers (policy contention); set by tests. */
  hosts: HostSample[] = [];

  async hostFacts(): Promise<HostSample[]> {
    return this.hosts.map((h) => ({ ...h }));
  }

  async close(): Promise<void> {
    await this.enter('close', '');
    this.closed = true;
  }

  /** Records the call, waits on a hold, then throws an injected error if one applies. */
  private async enter(method: HypervisorMethod, id: string, guest?: Guest): Promise<void> {
    this.calls.push(guest ? { method, id, guest } : { method, id });
    const hold = this.holds.get(method)?.shift();
    if (hold) await hold;
    const queued = this.queued.get(method)?.shift();
    if (queued) throw queued;
    for (const p of this.predicates) {
      const e = p(method, id);
      if (e) throw e;
    }
  }
}
