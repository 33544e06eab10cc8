// The behaviour every Store implementation must show. Each test file calls runStoreContract
// with a factory that returns a fresh, empty store; the factory's owner cleans up files/dbs.
import test, { type ExecutionContext } from 'ava';
import { GridhostError, type ErrorCode } from '../../src/errors/errors.ts';
import type { Guest, GuestState, PoolSample, ScaleEvent } from '../../src/domain/types.ts';
import type { PoolRecord, Store } from '../../src/store/store.ts';
import { acceptSignals, lastServedAt, serveSignals } from '../../src/decision/signal-book.ts';

export function pool(name: string, over: Partial<PoolRecord> = {}): PoolRecord {
  return { pool: name, file: `/etc/gridhost/policies/${name}.yaml`, desired: 2, managed: true, updatedAt: 1_700_000_000_000, ...over };
}

export function guest(id: string, over: Partial<Guest> = {}): Guest {
  return {
    id,
    pool: 'web',
    state: 'cloning',
    driver: 'local',
    host: 'localhost',
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    meta: {},
    ...over,
  };
}

export function event(over: Partial<ScaleEvent> = {}): ScaleEvent {
  return {
    pool: 'web',
    at: 1_700_000_000_000,
    direction: 'scale-out',
    from: 2,
    to: 3,
    reason: 'scale-out 2 -> 3: cpu mean 83.1% > 70% for 3 samples (84.0, 79.5, 85.9)',
    inputs: { series: { 'cpu-high': [84, 79.5, 85.9] }, min: 2, max: 8, schedules: [], recommended: 3, rule: 'cpu-high' },
    outcome: 'started',
    ...over,
  };
}

function sample(at: number, guests: PoolSample['guests'] = { 'web-a1': { cpu: 12.5, rps: 3 } }): PoolSample {
  return { at, guests };
}

async function rejectsWith(t: ExecutionContext, code: ErrorCode, p: Promise<unknown>): Promise<GridhostError> {
  const e = await t.throwsAsync(p);
  t.true(e instanceof GridhostError, `expected a GridhostError, got ${String(e)}`);
  t.is((e as GridhostError).code, code, (e as Error).message);
  return e as GridhostError;
}

const rejectsWithStoreFailed = (t: ExecutionContext, p: Promise<unknown>): Promise<GridhostError> => rejectsWith(t, 'GH_STORE_FAILED', p);

/** Register the contract's tests for one implementation. `open` must return a fresh, empty store. */
export function runStoreContract(name: string, open: () => Promise<Store>): void {
  const it = (title: string, fn: (t: ExecutionContext, s: Store) => Promise<void>): void => {
    test(`${name}: ${title}`, async (t) => {
      const s = await open();
      try {
        await fn(t, s);
      } finally {
        await s.close();
      }
    });
  };

  // ---- hosts (drain-host)

  it('a host without a record is open: getHost is undefined and listHosts empty', async (t, s) => {
    t.is(await s.getHost('dom0-a'), undefined);
    t.deepEqual(await s.listHosts(), []);
  });

  it('saveHost creates at version 1, compare-and-sets after, and refuses a stale or duplicate write', async (t, s) => {
    const drain = { by: 'alice@ops', reason: 'kernel update', at: 1_700_000_000_000 };
    const v1 = await s.saveHost({ host: 'dom0-b', drain, updatedAt: 1 });
    t.deepEqual(v1, { host: 'dom0-b', drain, updatedAt: 1, version: 1 });
    await s.saveHost({ host: 'dom0-a', updatedAt: 1 });
    const err = await t.throwsAsync(s.saveHost({ host: 'dom0-b', updatedAt: 2 }));
    t.is((err as GridhostError).code, 'GH_STALE_WRITE');
    const v2 = await s.saveHost({ host: 'dom0-b', version: 1, updatedAt: 3 });
    t.deepEqual(v2, { host: 'dom0-b', updatedAt: 3, version: 2 }, 'the drain left out is dropped (an undrain)');
    const stale = await t.throwsAsync(s.saveHost({ ...v1, updatedAt: 4 }));
    t.is((stale as GridhostError).code, 'GH_STALE_WRITE');
    t.deepEqual(await s.getHost('dom0-b'), v2);
    t.deepEqual((await s.listHosts()).map((h) => h.host), ['dom0-a', 'dom0-b']);
  });

  // ---- pools

  it('getPool of an unknown pool is undefined', async (t, s) => {
    t.is(await s.getPool('nope'), undefined);
    t.deepEqual(await s.listPools(), []);
  });

  it('savePool creates a pool record at version 1 that getPool returns exactly', async (t, s) => {
    const p = pool('web', { lastScaleOutAt: 1_700_000_100_000, lastScaleInAt: 1_700_000_050_000 });
    const saved = await s.savePool(p);
    t.deepEqual(saved, { ...p, version: 1 });
    t.deepEqual(await s.getPool('web'), { ...p, version: 1 });
  });

  it('savePool keeps when a retired pool was retired', async (t, s) => {
    const p = pool('old', { managed: false, desired: 0, retiredAt: 1_700_000_200_000 });
    await s.savePool(p);
    t.deepEqual(await s.getPool('old'), { ...p, version: 1 });
  });

  it('a pool\'s operator control (paused, or a manual size) is stored and read back exactly', async (t, s) => {
    const v1 = await s.savePool(pool('web', { control: { mode: 'paused', by: 'alice@ops', reason: 'incident 42', at: 1_700_000_200_000 } }));
    t.deepEqual(await s.getPool('web'), v1);
    t.like(v1, { control: { mode: 'paused', by: 'alice@ops', reason: 'incident 42', at: 1_700_000_200_000 } });
    const v2 = await s.savePool(pool('web', { version: v1.version, control: { mode: 'manual', desired: 6, force: false, by: 'bob', reason: 'campaign', at: 1_700_000_300_000 } }));
    t.deepEqual(await s.getPool('web'), v2);
    t.like(v2, { control: { mode: 'manual', desired: 6, force: false, by: 'bob' } });
    const v3 = await s.savePool(pool('web', { version: v2.version }));
    t.is((await s.getPool('web'))!.control, undefined, 'resuming drops the control');
    t.is(v3.version, 3);
  });

  it('savePool replaces the whole record, dropping optional fields left out, and counts versions up', async (t, s) => {
    const v1 = await s.savePool(pool('web', { desired: 3, lastScaleOutAt: 5, retiredAt: 7 }));
    const v2 = await s.savePool(pool('web', { desired: 4, managed: false, version: v1.version }));
    t.is(v2.version, 2);
    t.deepEqual(await s.getPool('web'), pool('web', { desired: 4, managed: false, version: 2 }));
    t.is((await s.listPools()).length, 1);
  });

  it('a pool write from a stale version is refused with GH_STALE_WRITE and changes nothing', async (t, s) => {
    const v1 = await s.savePool(pool('web', { desired: 2 }));
    await s.savePool({ ...v1, desired: 3 });
    await rejectsWith(t, 'GH_STALE_WRITE', s.savePool({ ...v1, desired: 8 }));
    await rejectsWith(t, 'GH_STALE_WRITE', s.savePool(pool('web', { desired: 9 })));
    t.like(await s.getPool('web'), { desired: 3, version: 2 });
  });

  it('listPools returns every pool ordered by name', async (t, s) => {
    await s.savePool(pool('web'));
    await s.savePool(pool('api'));
    await s.savePool(pool('batch'));
    t.deepEqual(
      (await s.listPools()).map((p) => p.pool),
      ['api', 'batch', 'web'],
    );
  });

  // ---- guests

  it('a guest with every optional field round-trips exactly', async (t, s) => {
    const g = guest('web-a1b2', {
      state: 'healthy',
      address: '127.0.0.1:40123',
      healthyAt: 1_700_000_010_000,
      updatedAt: 1_700_000_010_000,
      meta: { pid: '4242', clonePath: '/var/lib/gridhost/guests/web-a1b2', 'odd key': 'value with "quotes" and ünïcode' },
      error: 'none yet',
      history: [
        { at: 1_700_000_001_000, action: 'clone', outcome: 'ok', durationMs: 120 },
        { at: 1_700_000_009_000, action: 'before_register', outcome: 'continued', durationMs: 5000, detail: 'command: timed out after 5000 ms (killed)', code: 'GH_HOOK_FAILED' },
      ],
    });
    t.deepEqual(await s.saveGuest(g), { ...g, version: 1 });
    t.deepEqual(await s.getGuest('web-a1b2'), { ...g, version: 1 });
  });

  it('a guest without optional fields comes back without them, and with an empty meta', async (t, s) => {
    const g = guest('web-min');
    await s.saveGuest(g);
    const got = await s.getGuest('web-min');
    t.deepEqual(got, { ...g, version: 1 });
    t.deepEqual(Object.keys(got!).sort(), [...Object.keys(g), 'version'].sort());
    t.deepEqual(got!.meta, {});
  });

  it('getGuest of an unknown id is undefined', async (t, s) => {
    t.is(await s.getGuest('web-none'), undefined);
  });

  it('saveGuest replaces the guest by id through its state transitions, one version each', async (t, s) => {
    const steps: GuestState[] = ['cloning', 'booting', 'healthy', 'draining', 'stopping', 'gone'];
    let meta: Record<string, string> = {};
    let version: number | undefined;
    for (const [i, state] of steps.entries()) {
      meta = { ...meta, [`step${i}`]: state };
      const saved = await s.saveGuest(guest('web-t1', { state, updatedAt: 1_700_000_000_000 + i, meta, ...(version === undefined ? {} : { version }) }));
      t.is(saved.version, i + 1);
      version = saved.version;
      const got = await s.getGuest('web-t1');
      t.is(got?.state, state);
      t.is(got?.version, i + 1);
      t.deepEqual(got?.meta, meta);
    }
    const all = await s.listGuests();
    t.is(all.length, 1);
    t.is(all[0]!.state, 'gone');
  });

  it('a replaced guest loses optional fields the new version leaves out', async (t, s) => {
    const v1 = await s.saveGuest(guest('web-f1', { state: 'failed', error: 'boot failed', address: '127.0.0.1:1' }));
    await s.saveGuest(guest('web-f1', { state: 'gone', version: v1.version }));
    t.deepEqual(await s.getGuest('web-f1'), guest('web-f1', { state: 'gone', version: 2 }));
  });

  it('a guest write from a stale version is refused with GH_STALE_WRITE, naming both versions, and changes nothing', async (t, s) => {
    const v1 = await s.saveGuest(guest('web-r1', { state: 'healthy' }));
    const v2 = await s.saveGuest({ ...v1, state: 'draining' });
    await s.saveGuest({ ...v2, state: 'gone' });
    // A writer that still holds the healthy guest (the "retired guest live again" write) is refused.
    const e = await rejectsWith(t, 'GH_STALE_WRITE', s.saveGuest({ ...v1, state: 'healthy', address: '127.0.0.1:9' }));
    t.like(e.details, { guest: 'web-r1', expected: 1, found: 3 });
    t.deepEqual(await s.getGuest('web-r1'), guest('web-r1', { state: 'gone', version: 3 }));
  });

  it('creating a guest whose id exists is refused with GH_STALE_WRITE; updating one never written too', async (t, s) => {
    await s.saveGuest(guest('web-c1', { state: 'cloning' }));
    await rejectsWith(t, 'GH_STALE_WRITE', s.saveGuest(guest('web-c1', { state: 'healthy' })));
    await rejectsWith(t, 'GH_STALE_WRITE', s.saveGuest(guest('web-c2', { version: 1 })));
    t.is((await s.getGuest('web-c1'))?.state, 'cloning');
    t.is(await s.getGuest('web-c2'), undefined);
  });

  it('of two writers from the same version exactly one wins', async (t, s) => {
    const v1 = await s.saveGuest(guest('web-race', { state: 'healthy' }));
    const results = await Promise.allSettled([
      s.saveGuest({ ...v1, state: 'draining' }),
      s.saveGuest({ ...v1, state: 'stopping' }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    t.is(won.length, 1);
    t.is(lost.length, 1);
    t.is((lost[0]!.reason as GridhostError).code, 'GH_STALE_WRITE');
    t.is((await s.getGuest('web-race'))?.version, 2);
  });

  it('listGuests filters by pool, by states, and by both; ordered by pool, createdAt, id', async (t, s) => {
    await s.saveGuest(guest('web-2', { createdAt: 20, state: 'healthy' }));
    await s.saveGuest(guest('web-1', { createdAt: 10, state: 'booting' }));
    await s.saveGuest(guest('web-3', { createdAt: 20, state: 'gone' }));
    await s.saveGuest(guest('api-1', { pool: 'api', createdAt: 5, state: 'healthy' }));
    const ids = (gs: Guest[]): string[] => gs.map((g) => g.id);
    t.deepEqual(ids(await s.listGuests()), ['api-1', 'web-1', 'web-2', 'web-3']);
    t.deepEqual(ids(await s.listGuests({})), ['api-1', 'web-1', 'web-2', 'web-3']);
    t.deepEqual(ids(await s.listGuests({ pool: 'web' })), ['web-1', 'web-2', 'web-3']);
    t.deepEqual(ids(await s.listGuests({ states: ['healthy'] })), ['api-1', 'web-2']);
    t.deepEqual(ids(await s.listGuests({ pool: 'web', states: ['cloning', 'booting', 'healthy'] })), ['web-1', 'web-2']);
    t.deepEqual(ids(await s.listGuests({ pool: 'nope' })), []);
  });

  it('listGuests with an empty states list matches no guest', async (t, s) => {
    await s.saveGuest(guest('web-1'));
    t.deepEqual(await s.listGuests({ states: [] }), []);
  });

  it('listGuests sees a state transition: the guest moves between state filters', async (t, s) => {
    const v1 = await s.saveGuest(guest('web-1', { state: 'booting' }));
    t.is((await s.listGuests({ states: ['booting'] })).length, 1);
    await s.saveGuest(guest('web-1', { state: 'healthy', healthyAt: 7, version: v1.version }));
    t.is((await s.listGuests({ states: ['booting'] })).length, 0);
    t.deepEqual(await s.listGuests({ states: ['healthy'] }), [guest('web-1', { state: 'healthy', healthyAt: 7, version: 2 })]);
  });

  it('values returned are copies: mutating them does not change the store', async (t, s) => {
    await s.saveGuest(guest('web-1', { meta: { pid: '1' } }));
    const got = await s.getGuest('web-1');
    got!.meta.pid = '999';
    got!.state = 'gone';
    t.deepEqual(await s.getGuest('web-1'), guest('web-1', { meta: { pid: '1' }, version: 1 }));
  });

  // ---- leases and fencing

  it('the first holder of a pool lease gets token 1; while it runs nobody else gets it', async (t, s) => {
    const a = await s.acquireLease('web', 'proc-a', 60_000);
    t.like(a, { pool: 'web', holder: 'proc-a', token: 1 });
    t.true(a!.expiresAt > a!.acquiredAt);
    t.is(await s.acquireLease('web', 'proc-b', 60_000), undefined);
    t.like(await s.getLease('web'), { holder: 'proc-a', token: 1 });
    // Its own holder acquiring again renews it with the same token.
    t.like(await s.acquireLease('web', 'proc-a', 60_000), { holder: 'proc-a', token: 1 });
    // Leases are per pool.
    t.like(await s.acquireLease('api', 'proc-b', 60_000), { holder: 'proc-b', token: 1 });
    t.deepEqual((await s.listLeases()).map((l) => [l.pool, l.holder]), [['api', 'proc-b'], ['web', 'proc-a']]);
  });

  it('a lease keeps its holder\'s API URL: taken, renewed by acquiring again, replaced by the next holder\'s, none when not given', async (t, s) => {
    t.like(await s.acquireLease('web', 'proc-a', 1, 'http://127.0.0.1:8701'), { holder: 'proc-a', token: 1, api: 'http://127.0.0.1:8701' });
    t.is((await s.getLease('web'))?.api, 'http://127.0.0.1:8701');
    t.is((await s.renewLease('web', 'proc-a', 1, 1)).api, 'http://127.0.0.1:8701', 'renewing keeps it');
    await new Promise((r) => setTimeout(r, 20));
    // The compare-and-set on the lease is unchanged: the next holder only once it expired.
    t.like(await s.acquireLease('web', 'proc-b', 60_000, 'http://127.0.0.1:8702'), { holder: 'proc-b', token: 2, api: 'http://127.0.0.1:8702' });
    t.is(await s.acquireLease('web', 'proc-c', 60_000, 'http://127.0.0.1:8703'), undefined);
    t.is((await s.getLease('web'))?.api, 'http://127.0.0.1:8702', 'a refused holder does not overwrite it');
    t.deepEqual((await s.listLeases()).map((l) => l.api), ['http://127.0.0.1:8702']);
    const none = await s.acquireLease('api', 'proc-a', 60_000);
    t.false(none !== undefined && 'api' in none, 'no api key at all when none was given');
    t.false('api' in (await s.getLease('api'))!);
  });

  it('an expired or released lease goes to the next holder with a higher token, and the history says so', async (t, s) => {
    t.like(await s.acquireLease('web', 'proc-a', 1), { token: 1 });
    await new Promise((r) => setTimeout(r, 20));
    t.like(await s.acquireLease('web', 'proc-b', 60_000), { holder: 'proc-b', token: 2 });
    await s.releaseLease('web', 'proc-b', 2);
    t.like(await s.getLease('web'), { holder: 'proc-b', token: 2, expiresAt: 0 });
    t.like(await s.acquireLease('web', 'proc-c', 60_000), { holder: 'proc-c', token: 3 });
    const h = (await s.listHistory({ pool: 'web' })).reverse().map((e) => [e.kind, e.holder, e.token]);
    t.deepEqual(h, [['lease-acquired', 'proc-a', 1], ['lease-acquired', 'proc-b', 2], ['lease-released', 'proc-b', 2], ['lease-acquired', 'proc-c', 3]]);
  });

  it('renewLease extends the holder\'s lease and refuses with GH_LEASE_LOST once another holds it', async (t, s) => {
    const a = await s.acquireLease('web', 'proc-a', 1);
    await new Promise((r) => setTimeout(r, 20));
    // Expired but not taken: still the holder's (no one else has written under a newer token).
    const renewed = await s.renewLease('web', 'proc-a', a!.token, 60_000);
    t.true(renewed.expiresAt > a!.expiresAt);
    await s.releaseLease('web', 'proc-a', a!.token);
    await s.acquireLease('web', 'proc-b', 60_000);
    await rejectsWith(t, 'GH_LEASE_LOST', s.renewLease('web', 'proc-a', a!.token, 60_000));
    // A release by the old holder changes nothing.
    await s.releaseLease('web', 'proc-a', a!.token);
    t.like(await s.getLease('web'), { holder: 'proc-b', token: 2 });
    t.true((await s.getLease('web'))!.expiresAt > 0);
  });

  it('writes fenced with an old token are refused with GH_FENCED; the current token writes', async (t, s) => {
    const a = await s.acquireLease('web', 'proc-a', 60_000);
    const fa = { pool: 'web', token: a!.token };
    const g1 = await s.saveGuest(guest('web-1', { state: 'healthy' }), fa);
    await s.releaseLease('web', 'proc-a', a!.token);
    const b = await s.acquireLease('web', 'proc-b', 60_000);
    const fb = { pool: 'web', token: b!.token };
    const e = await rejectsWith(t, 'GH_FENCED', s.saveGuest({ ...g1, state: 'draining' }, fa));
    t.like(e.details, { pool: 'web', token: 1, current: 2 });
    await rejectsWith(t, 'GH_FENCED', s.savePool(pool('web'), fa));
    await rejectsWith(t, 'GH_FENCED', s.appendEvent(event(), fa));
    await rejectsWith(t, 'GH_FENCED', s.appendSample('web', sample(1), fa));
    await rejectsWith(t, 'GH_FENCED', s.appendHistory({ pool: 'web', at: 1, kind: 'repair', repair: 'x' }, fa));
    // A pool nobody holds refuses every token.
    await rejectsWith(t, 'GH_FENCED', s.saveGuest(guest('api-1', { pool: 'api' }), { pool: 'api', token: 1 }));
    t.is((await s.getGuest('web-1'))?.state, 'healthy');
    t.is(await s.getPool('web'), undefined);
    t.deepEqual(await s.listEvents(), []);
    const ev = await s.appendEvent(event({ holder: 'proc-b', token: b!.token }), fb);
    await rejectsWith(t, 'GH_FENCED', s.updateEvent(ev.id!, 'done', undefined, fa));
    await s.updateEvent(ev.id!, 'done', 'ok', fb);
    t.like((await s.listEvents())[0], { outcome: 'done', holder: 'proc-b', token: 2 });
    t.like(await s.saveGuest({ ...g1, state: 'draining' }, fb), { state: 'draining', version: 2 });
  });

  it('signals accepted by a process that does not lead the pool are a compare-and-set without fence; the leader\'s stale write is refused and its rewrite keeps them', async (t, s) => {
    const lease = await s.acquireLease('web', 'leader', 60_000);
    const fence = { pool: 'web', token: lease!.token };
    const led = await s.savePool(pool('web', { desired: 3 }), fence);
    // Another process accepts a signal: read, add, compare-and-set on that version (no fence).
    const book = acceptSignals(led.signals, [{ key: 'alert:fp1:2026-01-12T11:58:00Z', rule: 'burst.fast', from: 'alert HighLatency' }], 1_700_000_100_000, 86_400_000).book;
    const withSignal = await s.savePool({ ...(await s.getPool('web'))!, signals: book });
    t.is(withSignal.version, 2);
    t.deepEqual((await s.getPool('web'))!.signals, book, 'stored and read back exactly (a rule name with a dot included)');
    // The leader writes from the version it read before: refused, nothing lost.
    await rejectsWith(t, 'GH_STALE_WRITE', s.savePool({ ...led, desired: 4 }, fence));
    t.deepEqual((await s.getPool('web'))!.signals, book);
    // Its rewrite from the fresh record serves the signal and keeps the book.
    const fresh = (await s.getPool('web'))!;
    const served = serveSignals(fresh.signals, ['alert:fp1:2026-01-12T11:58:00Z'], 1_700_000_105_000, 'scale-out 3 -> 4: signal burst.fast +1');
    await s.savePool({ ...fresh, desired: 4, signals: served }, fence);
    const after = (await s.getPool('web'))!;
    t.like(after, { desired: 4, version: 3 });
    t.deepEqual(after.signals, served);
    t.is(lastServedAt(after.signals, 'burst.fast'), 1_700_000_105_000);
  });

  it('members are listed while their heartbeat runs, with where their API listens', async (t, s) => {
    await s.heartbeat({ id: 'proc-a', api: '127.0.0.1:8701', pools: ['web', 'api'] }, 60_000);
    await s.heartbeat({ id: 'proc-b', pools: [] }, 1);
    await new Promise((r) => setTimeout(r, 20));
    const ms = await s.listMembers();
    t.deepEqual(ms.map((m) => m.id), ['proc-a']);
    t.is(ms[0]!.api, '127.0.0.1:8701');
    t.deepEqual(ms[0]!.pools, ['web', 'api']);
    const started = ms[0]!.startedAt;
    await s.heartbeat({ id: 'proc-a', api: '127.0.0.1:8701', pools: ['web'] }, 60_000);
    t.is((await s.listMembers())[0]!.startedAt, started);
    t.deepEqual((await s.listMembers())[0]!.pools, ['web']);
    await s.removeMember('proc-a');
    t.deepEqual(await s.listMembers(), []);
  });

  it('history entries round-trip, newest first, per pool', async (t, s) => {
    await s.appendHistory({ pool: 'web', at: 10, kind: 'repair', repair: 'record-gone', guest: 'web-1', detail: 'its process is gone' });
    await s.appendHistory({ pool: 'api', at: 20, kind: 'repair', repair: 'clone-orphan' });
    const web = await s.listHistory({ pool: 'web' });
    t.is(web.length, 1);
    const { id, ...rest } = web[0]!;
    t.not(id, undefined);
    t.deepEqual(rest, { pool: 'web', at: 10, kind: 'repair', repair: 'record-gone', guest: 'web-1', detail: 'its process is gone' });
    t.deepEqual((await s.listHistory()).map((e) => e.pool), ['api', 'web']);
  });

  // ---- events

  it('an operator\'s event keeps its action and who asked', async (t, s) => {
    const stored = await s.appendEvent(event({ action: 'pause', by: 'alice@ops', reason: 'incident 42', direction: 'hold', from: 3, to: 3, outcome: 'done' }));
    const [back] = await s.listEvents({ pool: 'web' });
    t.deepEqual(back, stored);
    t.like(back, { action: 'pause', by: 'alice@ops', reason: 'incident 42' });
  });

  it('appendEvent returns the event with a new id and stores it exactly', async (t, s) => {
    const e = event({ detail: 'launching web-a1' });
    const stored = await s.appendEvent(e);
    t.not(stored.id, undefined);
    const { id, ...rest } = stored;
    t.deepEqual(rest, e);
    const listed = await s.listEvents();
    t.deepEqual(listed, [stored]);
  });

  it('appendEvent ignores an id the caller set and gives distinct ids', async (t, s) => {
    const a = await s.appendEvent(event({ id: 'caller-chosen' }));
    const b = await s.appendEvent(event());
    t.not(a.id, 'caller-chosen');
    t.not(a.id, b.id);
  });

  it('listEvents is newest first; equal times list the later append first', async (t, s) => {
    const a = await s.appendEvent(event({ at: 100, reason: 'a' }));
    const b = await s.appendEvent(event({ at: 300, reason: 'b' }));
    const c = await s.appendEvent(event({ at: 200, reason: 'c' }));
    const d = await s.appendEvent(event({ at: 300, reason: 'd' }));
    t.deepEqual(
      (await s.listEvents()).map((e) => e.reason),
      ['d', 'b', 'c', 'a'],
    );
    t.deepEqual(
      (await s.listEvents()).map((e) => e.id),
      [d.id, b.id, c.id, a.id],
    );
  });

  it('listEvents filters by pool and honours the limit', async (t, s) => {
    for (let i = 0; i < 5; i++) {
      await s.appendEvent(event({ pool: 'web', at: i, reason: `web${i}` }));
      await s.appendEvent(event({ pool: 'api', at: i, reason: `api${i}` }));
    }
    t.deepEqual(
      (await s.listEvents({ pool: 'api' })).map((e) => e.reason),
      ['api4', 'api3', 'api2', 'api1', 'api0'],
    );
    t.deepEqual(
      (await s.listEvents({ pool: 'web', limit: 2 })).map((e) => e.reason),
      ['web4', 'web3'],
    );
    t.is((await s.listEvents({ limit: 3 })).length, 3);
    t.deepEqual(await s.listEvents({ pool: 'nope' }), []);
  });

  it('listEvents returns at most 100 by default and at most 1000 when asked for more', async (t, s) => {
    for (let i = 0; i < 1001; i++) await s.appendEvent(event({ at: i, reason: `r${i}` }));
    const def = await s.listEvents();
    t.is(def.length, 100);
    t.is(def[0]!.reason, 'r1000');
    const big = await s.listEvents({ limit: 5000 });
    t.is(big.length, 1000);
    t.is(big[999]!.reason, 'r1');
  });

  it('updateEvent sets the outcome and detail; without a detail the old one stays', async (t, s) => {
    const e = await s.appendEvent(event());
    const other = await s.appendEvent(event({ at: 1, reason: 'other' }));
    await s.updateEvent(e.id!, 'failed', 'boot failed: exit 1');
    let got = (await s.listEvents()).find((x) => x.id === e.id)!;
    t.is(got.outcome, 'failed');
    t.is(got.detail, 'boot failed: exit 1');
    t.deepEqual({ ...got, outcome: 'started', detail: undefined }, { ...e, detail: undefined });
    await s.updateEvent(e.id!, 'done');
    got = (await s.listEvents()).find((x) => x.id === e.id)!;
    t.is(got.outcome, 'done');
    t.is(got.detail, 'boot failed: exit 1');
    t.is((await s.listEvents()).find((x) => x.id === other.id)!.outcome, 'started');
  });

  it('updateEvent of an unknown or malformed id rejects with GH_STORE_FAILED', async (t, s) => {
    const e = await s.appendEvent(event());
    const unknown = typeof e.id === 'number' ? e.id + 1000 : 'ffffffffffffffffffffffff';
    await rejectsWithStoreFailed(t, s.updateEvent(unknown, 'done'));
    await rejectsWithStoreFailed(t, s.updateEvent('not an id', 'done'));
    t.is((await s.listEvents())[0]!.outcome, 'started');
  });

  // ---- samples

  it('samples list per pool in time order, within an inclusive since..until range', async (t, s) => {
    await s.appendSample('web', sample(300));
    await s.appendSample('web', sample(100, { 'web-a': { cpu: 0.25 }, 'web-b': {} }));
    await s.appendSample('web', sample(200));
    await s.appendSample('api', sample(150));
    t.deepEqual(
      (await s.listSamples('web')).map((x) => x.at),
      [100, 200, 300],
    );
    t.deepEqual((await s.listSamples('web'))[0], sample(100, { 'web-a': { cpu: 0.25 }, 'web-b': {} }));
    t.deepEqual(
      (await s.listSamples('web', 200)).map((x) => x.at),
      [200, 300],
    );
    t.deepEqual(
      (await s.listSamples('web', 100, 200)).map((x) => x.at),
      [100, 200],
    );
    t.deepEqual(
      (await s.listSamples('web', undefined, 100)).map((x) => x.at),
      [100],
    );
    t.deepEqual(
      (await s.listSamples('api')).map((x) => x.at),
      [150],
    );
    t.deepEqual(await s.listSamples('nope'), []);
    // Pool-wide values (a source: prometheus rule's) round-trip beside the guests'.
    const withPool: PoolSample = { at: 400, guests: { 'web-a': { cpu: 1 } }, pool: { 'prometheus:rps': 42.5 } };
    await s.appendSample('web', withPool);
    t.deepEqual((await s.listSamples('web', 400)), [withPool]);
  });

  it('pruneSamples deletes samples strictly older than the cutoff across pools and returns the count', async (t, s) => {
    for (const at of [100, 200, 300]) {
      await s.appendSample('web', sample(at));
      await s.appendSample('api', sample(at));
    }
    t.is(await s.pruneSamples(200), 2);
    t.deepEqual(
      (await s.listSamples('web')).map((x) => x.at),
      [200, 300],
    );
    t.deepEqual(
      (await s.listSamples('api')).map((x) => x.at),
      [200, 300],
    );
    t.is(await s.pruneSamples(200), 0);
    t.is(await s.pruneSamples(10_000), 4);
    t.deepEqual(await s.listSamples('web'), []);
  });

  // ---- history retention

  it('pruneHistory deletes gone and failed guests last updated before the cut-off, in every pool, and returns the count', async (t, s) => {
    await s.saveGuest(guest('web-g1', { state: 'gone', updatedAt: 100 }));
    await s.saveGuest(guest('web-f1', { state: 'failed', updatedAt: 150, error: 'boot failed' }));
    await s.saveGuest(guest('api-g1', { pool: 'api', state: 'gone', updatedAt: 199 }));
    await s.saveGuest(guest('web-g2', { state: 'gone', updatedAt: 200 }));
    await s.saveGuest(guest('web-f2', { state: 'failed', updatedAt: 300 }));
    t.deepEqual(await s.pruneHistory(200), { guests: 3, events: 0 });
    t.deepEqual(
      (await s.listGuests()).map((g) => g.id).sort(),
      ['web-f2', 'web-g2'],
    );
    t.is(await s.getGuest('web-g1'), undefined);
    t.deepEqual(await s.getGuest('web-g2'), guest('web-g2', { state: 'gone', updatedAt: 200, version: 1 }));
    t.deepEqual(await s.pruneHistory(200), { guests: 0, events: 0 });
  });

  it('pruneHistory never deletes a guest that is not gone or failed, however old', async (t, s) => {
    const live: GuestState[] = ['cloning', 'booting', 'healthy', 'draining', 'stopping'];
    for (const state of live) await s.saveGuest(guest(`web-${state}`, { state, createdAt: 1, updatedAt: 1 }));
    await s.saveGuest(guest('web-old-gone', { state: 'gone', createdAt: 1, updatedAt: 1 }));
    t.deepEqual(await s.pruneHistory(Number.MAX_SAFE_INTEGER), { guests: 1, events: 0 });
    t.deepEqual(
      (await s.listGuests()).map((g) => g.state).sort(),
      [...live].sort(),
    );
  });

  it('pruneHistory judges a guest by updatedAt, not createdAt', async (t, s) => {
    // Created long ago but finished recently: its end is what the retention counts from.
    await s.saveGuest(guest('web-late', { state: 'gone', createdAt: 10, updatedAt: 500 }));
    t.deepEqual(await s.pruneHistory(400), { guests: 0, events: 0 });
    t.is((await s.getGuest('web-late'))?.state, 'gone');
  });

  it('pruneHistory deletes events before the cut-off in every pool and keeps the rest; the bound is exclusive', async (t, s) => {
    for (const at of [100, 199, 200, 300]) {
      await s.appendEvent(event({ at, reason: `web ${at}` }));
      await s.appendEvent(event({ pool: 'api', at, reason: `api ${at}` }));
    }
    t.deepEqual(await s.pruneHistory(200), { guests: 0, events: 4 });
    t.deepEqual(
      (await s.listEvents()).map((e) => e.reason),
      ['api 300', 'web 300', 'api 200', 'web 200'],
    );
    t.deepEqual(await s.pruneHistory(200), { guests: 0, events: 0 });
  });

  it('an event kept by pruneHistory can still be updated', async (t, s) => {
    await s.appendEvent(event({ at: 100 }));
    const kept = await s.appendEvent(event({ at: 300 }));
    await s.pruneHistory(200);
    await s.updateEvent(kept.id!, 'done', 'scaled');
    t.deepEqual(
      (await s.listEvents()).map((e) => [e.outcome, e.detail]),
      [['done', 'scaled']],
    );
  });

  it('pruneHistory leaves pools and samples alone', async (t, s) => {
    await s.savePool(pool('web', { updatedAt: 1 }));
    await s.appendSample('web', sample(1));
    t.deepEqual(await s.pruneHistory(Number.MAX_SAFE_INTEGER), { guests: 0, events: 0 });
    t.is((await s.listPools()).length, 1);
    t.is((await s.listSamples('web')).length, 1);
  });

  // ---- close

  it('after close every method rejects with GH_STORE_FAILED, and close again is harmless', async (t, s) => {
    await s.saveGuest(guest('web-1'));
    await s.close();
    await rejectsWithStoreFailed(t, s.getGuest('web-1'));
    await rejectsWithStoreFailed(t, s.saveGuest(guest('web-2')));
    await rejectsWithStoreFailed(t, s.listEvents());
    await rejectsWithStoreFailed(t, s.appendSample('web', sample(1)));
    await rejectsWithStoreFailed(t, s.pruneHistory(1));
    await t.notThrowsAsync(s.close());
  });
}
