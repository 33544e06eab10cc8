import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GridhostError } from '../../src/errors/errors.ts';
import { SQLITE_SCHEMA_VERSION, openSqliteStore } from '../../src/store/sqlite-store.ts';
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
  await a.putGuest(g);
  await a.close();
  const b = openSqliteStore(path);
  t.teardown(() => b.close());
  t.deepEqual(await b.getGuest('web-d1'), g);
});

test('a write is visible to another connection as soon as the promise resolves (no close needed)', async (t) => {
  const path = fresh();
  const a = openSqliteStore(path);
  t.teardown(() => a.close());
  await a.putGuest(guest('web-c1', { state: 'cloning' }));
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
  t.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: SQLITE_SCHEMA_VERSION }]);
  const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[])
    .map((r) => r.name)
    .sort();
  t.deepEqual(indexes, ['events_at', 'events_pool_at', 'guests_pool_state', 'guests_state', 'samples_at', 'samples_pool_at']);
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
  t.is((db.prepare('SELECT COUNT(*) AS c FROM schema_version').get() as { c: number }).c, 1);
});

test('a database from a newer gridhost is refused with GH_STORE_FAILED naming the path', (t) => {
  const path = fresh();
  openSqliteStore(path).close();
  const db = new Database(path);
  db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SQLITE_SCHEMA_VERSION + 1);
  db.close();
  const e = t.throws(() => openSqliteStore(path));
  t.true(e instanceof GridhostError);
  t.is((e as GridhostError).code, 'GH_STORE_FAILED');
  t.true(e!.message.includes(path), e!.message);
});

test('a corrupt file gives GH_STORE_FAILED with the path in the message', (t) => {
  const path = join(dir, 'corrupt.db');
  writeFileSync(path, 'this is not a sqlite database, just text that is long enough to have a header '.repeat(20));
  const e = t.throws(() => openSqliteStore(path));
  t.true(e instanceof GridhostError);
  t.is((e as GridhostError).code, 'GH_STORE_FAILED');
  t.true(e!.message.includes(path), e!.message);
});

test('an unwritable path (parent is a file) gives GH_STORE_FAILED with the path in the message', (t) => {
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'x');
  const path = join(file, 'sub', 'state.db');
  const e = t.throws(() => openSqliteStore(path));
  t.true(e instanceof GridhostError);
  t.is((e as GridhostError).code, 'GH_STORE_FAILED');
  t.true(e!.message.includes(path), e!.message);
});

test('a failing query after open rejects with GH_STORE_FAILED keeping the cause', async (t) => {
  const s = openSqliteStore(fresh());
  t.teardown(() => s.close());
  const db = (s as unknown as { db: Database.Database }).db;
  db.exec('DROP TABLE guests');
  const e = await t.throwsAsync(s.listGuests());
  t.is((e as GridhostError).code, 'GH_STORE_FAILED');
  t.truthy(e!.cause);
  t.regex(e!.message, /listGuests/);
});
