// The behaviour every Store implementation must show. Each test file calls runStoreContract
// with a factory that returns a fresh, empty store; the factory's owner cleans up files/dbs.
import test, { type ExecutionContext } from 'ava';
import { GridhostError } from '../../src/errors/errors.ts';
import type { Guest, GuestState, PoolSample, ScaleEvent } from '../../src/domain/types.ts';
import type { PoolRecord, Store } from '../../src/store/store.ts';

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

async function rejectsWithStoreFailed(t: ExecutionContext, p: Promise<unknown>): Promise<GridhostError> {
  const e = await t.throwsAsync(p);
  t.true(e instanceof GridhostError, `expected a GridhostError, got ${String(e)}`);
  t.is((e as GridhostError).code, 'GH_STORE_FAILED');
  return e as GridhostError;
}

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

  // ---- pools

  it('getPool of an unknown pool is undefined', async (t, s) => {
    t.is(await s.getPool('nope'), undefined);
    t.deepEqual(await s.listPools(), []);
  });

  it('upsertPool stores a pool record that getPool returns exactly', async (t, s) => {
    const p = pool('web', { lastScaleOutAt: 1_700_000_100_000, lastScaleInAt: 1_700_000_050_000 });
    await s.upsertPool(p);
    t.deepEqual(await s.getPool('web'), p);
  });

  it('upsertPool replaces the whole record, dropping optional fields left out', async (t, s) => {
    await s.upsertPool(pool('web', { desired: 3, lastScaleOutAt: 5 }));
    await s.upsertPool(pool('web', { desired: 4, managed: false }));
    t.deepEqual(await s.getPool('web'), pool('web', { desired: 4, managed: false }));
    t.is((await s.listPools()).length, 1);
  });

  it('listPools returns every pool ordered by name', async (t, s) => {
    await s.upsertPool(pool('web'));
    await s.upsertPool(pool('api'));
    await s.upsertPool(pool('batch'));
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
    });
    await s.putGuest(g);
    t.deepEqual(await s.getGuest('web-a1b2'), g);
  });

  it('a guest without optional fields comes back without them, and with an empty meta', async (t, s) => {
    const g = guest('web-min');
    await s.putGuest(g);
    const got = await s.getGuest('web-min');
    t.deepEqual(got, g);
    t.deepEqual(Object.keys(got!).sort(), Object.keys(g).sort());
    t.deepEqual(got!.meta, {});
  });

  it('getGuest of an unknown id is undefined', async (t, s) => {
    t.is(await s.getGuest('web-none'), undefined);
  });

  it('putGuest replaces the guest by id through its state transitions', async (t, s) => {
    const steps: GuestState[] = ['cloning', 'booting', 'healthy', 'draining', 'stopping', 'gone'];
    let meta: Record<string, string> = {};
    for (const [i, state] of steps.entries()) {
      meta = { ...meta, [`step${i}`]: state };
      await s.putGuest(guest('web-t1', { state, updatedAt: 1_700_000_000_000 + i, meta }));
      const got = await s.getGuest('web-t1');
      t.is(got?.state, state);
      t.deepEqual(got?.meta, meta);
    }
    const all = await s.listGuests();
    t.is(all.length, 1);
    t.is(all[0]!.state, 'gone');
  });

  it('a replaced guest loses optional fields the new version leaves out', async (t, s) => {
    await s.putGuest(guest('web-f1', { state: 'failed', error: 'boot failed', address: '127.0.0.1:1' }));
    await s.putGuest(guest('web-f1', { state: 'gone' }));
    t.deepEqual(await s.getGuest('web-f1'), guest('web-f1', { state: 'gone' }));
  });

  it('listGuests filters by pool, by states, and by both; ordered by pool, createdAt, id', async (t, s) => {
    await s.putGuest(guest('web-2', { createdAt: 20, state: 'healthy' }));
    await s.putGuest(guest('web-1', { createdAt: 10, state: 'booting' }));
    await s.putGuest(guest('web-3', { createdAt: 20, state: 'gone' }));
    await s.putGuest(guest('api-1', { pool: 'api', createdAt: 5, state: 'healthy' }));
    const ids = (gs: Guest[]): string[] => gs.map((g) => g.id);
    t.deepEqual(ids(await s.listGuests()), ['api-1', 'web-1', 'web-2', 'web-3']);
    t.deepEqual(ids(await s.listGuests({})), ['api-1', 'web-1', 'web-2', 'web-3']);
    t.deepEqual(ids(await s.listGuests({ pool: 'web' })), ['web-1', 'web-2', 'web-3']);
    t.deepEqual(ids(await s.listGuests({ states: ['healthy'] })), ['api-1', 'web-2']);
    t.deepEqual(ids(await s.listGuests({ pool: 'web', states: ['cloning', 'booting', 'healthy'] })), ['web-1', 'web-2']);
    t.deepEqual(ids(await s.listGuests({ pool: 'nope' })), []);
  });

  it('listGuests with an empty states list matches no guest', async (t, s) => {
    await s.putGuest(guest('web-1'));
    t.deepEqual(await s.listGuests({ states: [] }), []);
  });

  it('listGuests sees a state transition: the guest moves between state filters', async (t, s) => {
    await s.putGuest(guest('web-1', { state: 'booting' }));
    t.is((await s.listGuests({ states: ['booting'] })).length, 1);
    await s.putGuest(guest('web-1', { state: 'healthy', healthyAt: 7 }));
    t.is((await s.listGuests({ states: ['booting'] })).length, 0);
    t.deepEqual(await s.listGuests({ states: ['healthy'] }), [guest('web-1', { state: 'healthy', healthyAt: 7 })]);
  });

  it('values returned are copies: mutating them does not change the store', async (t, s) => {
    await s.putGuest(guest('web-1', { meta: { pid: '1' } }));
    const got = await s.getGuest('web-1');
    got!.meta.pid = '999';
    got!.state = 'gone';
    t.deepEqual(await s.getGuest('web-1'), guest('web-1', { meta: { pid: '1' } }));
  });

  // ---- events

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
    await s.putGuest(guest('web-g1', { state: 'gone', updatedAt: 100 }));
    await s.putGuest(guest('web-f1', { state: 'failed', updatedAt: 150, error: 'boot failed' }));
    await s.putGuest(guest('api-g1', { pool: 'api', state: 'gone', updatedAt: 199 }));
    await s.putGuest(guest('web-g2', { state: 'gone', updatedAt: 200 }));
    await s.putGuest(guest('web-f2', { state: 'failed', updatedAt: 300 }));
    t.deepEqual(await s.pruneHistory(200), { guests: 3, events: 0 });
    t.deepEqual(
      (await s.listGuests()).map((g) => g.id).sort(),
      ['web-f2', 'web-g2'],
    );
    t.is(await s.getGuest('web-g1'), undefined);
    t.deepEqual(await s.getGuest('web-g2'), guest('web-g2', { state: 'gone', updatedAt: 200 }));
    t.deepEqual(await s.pruneHistory(200), { guests: 0, events: 0 });
  });

  it('pruneHistory never deletes a guest that is not gone or failed, however old', async (t, s) => {
    const live: GuestState[] = ['cloning', 'booting', 'healthy', 'draining', 'stopping'];
    for (const state of live) await s.putGuest(guest(`web-${state}`, { state, createdAt: 1, updatedAt: 1 }));
    await s.putGuest(guest('web-old-gone', { state: 'gone', createdAt: 1, updatedAt: 1 }));
    t.deepEqual(await s.pruneHistory(Number.MAX_SAFE_INTEGER), { guests: 1, events: 0 });
    t.deepEqual(
      (await s.listGuests()).map((g) => g.state).sort(),
      [...live].sort(),
    );
  });

  it('pruneHistory judges a guest by updatedAt, not createdAt', async (t, s) => {
    // Created long ago but finished recently: its end is what the retention counts from.
    await s.putGuest(guest('web-late', { state: 'gone', createdAt: 10, updatedAt: 500 }));
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
    await s.upsertPool(pool('web', { updatedAt: 1 }));
    await s.appendSample('web', sample(1));
    t.deepEqual(await s.pruneHistory(Number.MAX_SAFE_INTEGER), { guests: 0, events: 0 });
    t.is((await s.listPools()).length, 1);
    t.is((await s.listSamples('web')).length, 1);
  });

  // ---- close

  it('after close every method rejects with GH_STORE_FAILED, and close again is harmless', async (t, s) => {
    await s.putGuest(guest('web-1'));
    await s.close();
    await rejectsWithStoreFailed(t, s.getGuest('web-1'));
    await rejectsWithStoreFailed(t, s.putGuest(guest('web-2')));
    await rejectsWithStoreFailed(t, s.listEvents());
    await rejectsWithStoreFailed(t, s.appendSample('web', sample(1)));
    await rejectsWithStoreFailed(t, s.pruneHistory(1));
    await t.notThrowsAsync(s.close());
  });
}
