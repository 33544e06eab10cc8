import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GridhostError } from '../../src/errors/errors.ts';
import { openStore } from '../../src/store/open-store.ts';
import { guest } from './store-contract.ts';

test('openStore with kind sqlite opens a working SQLite store at the path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-open-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = await openStore({ kind: 'sqlite', path: join(dir, 'nested', 'state.db') });
  t.teardown(() => s.close());
  t.is(s.name, 'sqlite');
  await s.saveGuest(guest('web-1'));
  t.is((await s.getGuest('web-1'))?.id, 'web-1');
});

test('openStore with kind mongodb goes to MongoDB and reports a bad URI as GH_STORE_FAILED', async (t) => {
  const e = await t.throwsAsync(openStore({ kind: 'mongodb', uri: 'not-a-mongodb-uri' }));
  t.true(e instanceof GridhostError);
  t.is((e as GridhostError).code, 'GH_STORE_FAILED');
  t.regex(e!.message, /mongodb/);
});
