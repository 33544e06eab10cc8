// `gridhost run` prunes history on its prune schedule (once at start, then every 15 min):
// finished guests and scale events older than limits.history_retention leave the store,
// everything younger (and every guest not finished) stays.
import test from 'ava';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite-driver.ts';
import { event, guest } from '../store/store-contract.ts';
import { startGridhost, waitUntil, workspace, type GridhostProcess } from '../e2e/harness.ts';

const DAY = 86_400_000;

test('at start gridhost run deletes gone/failed guests and events older than history_retention, keeps the rest, and logs the counts', async (t) => {
  const dir = workspace({ policies: {}, config: 'limits:\n  history_retention: 1d\n' });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'data', 'gridhost.db');
  const now = Date.now();
  const seed = openSqliteStore(dbPath);
  // Old and new finished guests of a pool with no policy: the reconciler leaves them alone.
  await seed.saveGuest(guest('web-old-gone', { state: 'gone', createdAt: now - 3 * DAY, updatedAt: now - 2 * DAY }));
  await seed.saveGuest(guest('web-old-failed', { state: 'failed', createdAt: now - 3 * DAY, updatedAt: now - 2 * DAY, error: 'boot failed' }));
  await seed.saveGuest(guest('web-new-gone', { state: 'gone', createdAt: now - 3 * DAY, updatedAt: now - DAY / 2 }));
  await seed.appendEvent(event({ at: now - 2 * DAY, reason: 'old' }));
  await seed.appendEvent(event({ at: now - DAY / 2, reason: 'new', outcome: 'done' }));
  await seed.close();

  let gh: GridhostProcess | undefined;
  t.teardown(async () => {
    await gh?.stop();
  });
  gh = await startGridhost({ policies: {}, dir });
  t.teardown(() => {
    if (!t.passed) t.log(gh?.logs.map((l) => JSON.stringify(l)).join('\n'));
  });
  const line = await waitUntil(() => gh!.logs.find((l) => l.msg === 'pruned history'), 20_000, 'the "pruned history" log line');
  t.like(line, { level: 'debug', guests: 2, events: 1 });
  t.is(await gh.stop(), 0);

  const after = openSqliteStore(dbPath);
  t.teardown(() => after.close());
  t.deepEqual((await after.listGuests()).map((g) => g.id), ['web-new-gone']);
  t.deepEqual((await after.listEvents()).map((e) => e.reason), ['new']);
});
