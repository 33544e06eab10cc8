// The spawn-to-record gap of the local driver (issue 10): a gridhost killed after spawning a
// guest but before writing its guest.json left a serving process nothing could find. Each guest
// now carries a marker in its environment; discovery and stop find it by that.
import test from 'ava';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { LocalHypervisor } from '../../../src/drivers/hypervisor/local/local-hypervisor.ts';
import { parseMarker } from '../../../src/drivers/hypervisor/local/guest-marker.ts';
import { isSameLiveProcess, readProcStat } from '../../../src/drivers/hypervisor/local/proc-stat.ts';
import { waitHealthy } from '../../../src/drivers/health/http-health.ts';
import { guestsDir, makePolicy, spec } from './helpers.ts';

const alive = async (pid: number): Promise<boolean> => isSameLiveProcess(await readProcStat(pid));

test('a guest whose guest.json was never written is still discovered as running and stopped by its marker', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-gap1', makePolicy());
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const pid = Number(b.meta.pid);
  t.teardown(() => { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } });
  // The crash came between spawn and the record: no guest.json, and the store has no pid.
  await rm(path.join(c.meta.clonePath!, 'guest.json'));
  const found = (await hv.discover()).find((g) => g.id === 'web-gap1');
  t.like(found, { pool: 'web', running: true, meta: { pid: String(pid) } });
  await hv.stop({ id: 'web-gap1', pool: 'web', state: 'stopping', driver: 'local', host: 'localhost', createdAt: 0, updatedAt: 0, meta: { clonePath: c.meta.clonePath! } }, 2000);
  t.false(await alive(pid));
  await hv.deleteClone({ id: 'web-gap1', pool: 'web', state: 'stopping', driver: 'local', host: 'localhost', createdAt: 0, updatedAt: 0, meta: { clonePath: c.meta.clonePath! } });
  t.deepEqual(await hv.discover(), []);
});

test('a marked guest whose clone folder is gone is discovered too; another gridhost\'s guests are not', async (t) => {
  const dir = await guestsDir(t);
  const other = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-gap2', makePolicy());
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const pid = Number(b.meta.pid);
  t.teardown(() => { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } });
  // Serving first: a node that has not loaded its script yet would fail once the folder is gone.
  await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 20_000, intervalMs: 50 });
  await rm(c.meta.clonePath!, { recursive: true, force: true });
  t.like((await hv.discover()).find((g) => g.id === 'web-gap2'), { pool: 'web', running: true });
  t.deepEqual(await new LocalHypervisor({ guestsDir: other }).discover(), [], 'scoped to its own guests folder');
  await hv.stop({ id: 'web-gap2', pool: 'web', state: 'stopping', driver: 'local', host: 'localhost', createdAt: 0, updatedAt: 0, meta: {} }, 2000);
  t.false(await alive(pid));
});

test('the marker is read only for the guests folder it names', (t) => {
  const env = ['PATH=/bin', 'GRIDHOST_GUESTS_DIR=/a/guests', 'GRIDHOST_GUEST_ID=web-1', 'GRIDHOST_GUEST_POOL=web', ''].join('\0');
  t.deepEqual(parseMarker(env, '/a/guests'), { id: 'web-1', pool: 'web' });
  t.is(parseMarker(env, '/b/guests'), undefined);
  t.is(parseMarker('PATH=/bin\0', '/a/guests'), undefined);
});
