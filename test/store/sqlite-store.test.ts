import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GridhostError } from '../../src/errors/errors.ts';
import { openSqliteStore } from '../../src/store/sqlite-driver.ts';
import { SQLITE_SCHEMA_VERSION } from '../../src/store/sqlite-migrations.ts';
import { guest, runStoreContract } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'gridhost-sqlite-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const fresh = (): string => join(dir, `db${++n}`, 'state.db');

runStoreContract('sqlite', async () => openSqliteStore(fresh()));

test('a guest written by one store instance is read by a second instance opened after close', async (t) => {
  const path = fresh();
  const g = guest('web-d1', { state: 'booting', meta: { pid: '123', clonePath: '/tmp/x' }, address: '127.0.0.1:9' });
  const a = openSqliteStore(path);
  await a.saveGuest(g);
  await a.close();
  const b = openSqliteStore(path);
  t.teardown(() => b.close());
  t.deepEqual(await b.getGuest('web-d1'), { ...g, version: 1 });
});

test('a write is visible to another connection as soon as the promise resolves (no close needed)', async (t) => {
  const path = fresh();
  const a = openSqliteStore(path);
  t.teardown(() => a.close());
  await a.saveGuest(guest('web-c1', { state: 'cloning' }));
  const b = openSqliteStore(path);
  t.teardown(() => b.close());
  t.is((await b.getGuest('web-c1'))?.state, 'cloning');
});

test('open uses WAL with synchronous=FULL and records the schema version', async (t) => {
  const path = fresh();
  const s = openSqliteStore(path);
  await s.close();
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
  t.deepEqual(db.prepare('SELECT MAX(version) AS version FROM schema_version').get(), { version: SQLITE_SCHEMA_VERSION });
  const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[])
    .map((r) => r.name)
    .sort();
  t.deepEqual(indexes, ['events_at', 'events_pool_at', 'guests_pool_state', 'guests_state_updated', 'history_at', 'history_pool_at', 'samples_at', 'samples_pool_at']);
});

test('synchronous is FULL on the store connection', async (t) => {
  const s = openSqliteStore(fresh());
  t.teardown(() => s.close());
  // 2 = FULL; reached through the private handle on purpose: durability is the contract.
  const db = (s as unknown as { db: Database.Database }).db;
  t.is(db.pragma('synchronous', { simple: true }), 2);
});

test('reopening an up-to-date database applies no migration twice', async (t) => {
  const path = fresh();
  await openSqliteStore(path).close();
  await openSqliteStore(path).close();
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  t.is((db.prepare('SELECT COUNT(*) AS c FROM schema_version').get() as { c: number }).c, SQLITE_SCHEMA_VERSION);
});

test('a version 1 database is migrated to the (state, updated_at) index and keeps its rows', async (t) => {
  const path = fresh();
  const a = openSqliteStore(path);
  await a.saveGuest(guest('web-old', { state: 'gone', updatedAt: 5 }));
  await a.close();
  // Put the file back to what version 1 left: its index, no guests_state_updated.
  const raw = new Database(path);
  raw.exec(`DROP INDEX guests_state_updated; CREATE INDEX guests_state ON guests (state);
    ALTER TABLE guests DROP COLUMN version; ALTER TABLE pools DROP COLUMN version;
    DROP TABLE leases; DROP TABLE members; DROP TABLE history; DROP TABLE hosts;
    DELETE FROM schema_version WHERE version > 1;`);
  raw.close();
  const b = openSqliteStore(path);
  t.teardown(() => b.close());
  t.is((await b.getGuest('web-old'))?.state, 'gone');
  const db = (b as unknown as { db: Database.Database }).db;
  const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'guests'").all() as { name: string }[]).map((r) => r.name);
  t.true(names.includes('guests_state_updated'), names.join(', '));
  t.false(names.includes('guests_state'), names.join(', '));
  t.deepEqual(await b.pruneHistory(10), { guests: 1, events: 0 });
});

test('rows written before versions read as version 0 and take a compare-and-set from it', async (t) => {
  const path = fresh();
  const a = openSqliteStore(path);
  await a.saveGuest(guest('web-old', { state: 'healthy' }));
  await a.close();
  const raw = new Database(path);
  raw.exec('UPDATE guests SET version = 0');
  raw.close();
  const b = openSqliteStore(path);
  t.teardown(() => b.close());
  const old = await b.getGuest('web-old');
  t.is(old?.version, 0);
  t.is((await b.saveGuest({ ...old!, state: 'draining' })).version, 1);
});

test('two store instances on one file (two processes) see each other\'s leases, and fencing holds across them', async (t) => {
  const path = fresh();
  const a = openSqliteStore(path);
  const b = openSqliteStore(path);
  t.teardown(async () => { await a.close(); await b.close(); });
  const la = await a.acquireLease('web', 'proc-a', 60_000);
  t.is(await b.acquireLease('web', 'proc-b', 60_000), undefined);
  const g = await a.saveGuest(guest('web-1', { state: 'healthy' }), { pool: 'web', token: la!.token });
  await a.releaseLease('web', 'proc-a', la!.token);
  const lb = await b.acquireLease('web', 'proc-b', 60_000);
  t.is(lb?.token, la!.token + 1);
  const e = await t.throwsAsync(a.saveGuest({ ...g, state: 'gone' }, { pool: 'web', token: la!.token }));
  t.is((e as { code?: string }).code, 'GH_FENCED');
  t.is((await b.getGuest('web-1'))?.state, 'healthy');
});

test('pruneHistory finds finished guests and old events through indexes, not table scans', async (t) => {
  const s = openSqliteStore(fresh());
  t.teardown(() => s.close());
  await s.pruneHistory(1);
  // The statements the store actually ran, explained by SQLite's planner.
  const { db, stmts } = s as unknown as { db: Database.Database; stmts: Map<string, Database.Statement> };
  const plan = (key: string, ...args: unknown[]): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${stmts.get(key)!.source}`).all(...args) as { detail: string }[]).map((r) => r.detail).join('; ');
  t.regex(plan('pruneGuests', '["gone","failed"]', 1), /USING (COVERING )?INDEX guests_state_updated \(state=\? AND updated_at<\?\)/);
  t.regex(plan('pruneEvents', 1), /USING (COVERING )?INDEX events_at \(at<\?\)/);
});
