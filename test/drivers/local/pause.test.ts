// The local driver's pause and unpause (the warm pool) on real guest processes: a paused guest
// is a stopped process group that answers nothing, keeps its port and memory, and serves again
// at once when continued; stopping a paused guest leaves nothing behind.
import test from 'ava';
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { waitHealthy } from '../../../src/drivers/health/http-health.ts';
import { LocalHypervisor } from '../../../src/drivers/hypervisor/local/local-hypervisor.ts';
import { groupAlive, isSameLiveProcess, readProcStat } from '../../../src/drivers/hypervisor/local/proc-stat.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { guestOf, guestsDir, makePolicy, spec } from './helpers.ts';

/** GET that resolves with the status, or 'timeout' when nothing answers within `ms`. */
function get(url: string, ms: number): Promise<number | 'timeout'> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(ms, () => {
      req.destroy();
      resolve('timeout');
    });
    req.on('error', () => resolve(0));
  });
}

async function booted(t: Parameters<typeof guestsDir>[0], id: string) {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec(id, makePolicy());
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 10_000, intervalMs: 50 });
  return { dir, hv, g: guestOf(s, c, b), url: `http://${b.address}/healthz` };
}

test('a paused guest is a stopped process group that answers nothing; unpaused it serves again at once', async (t) => {
  const { hv, g, url } = await booted(t, 'web-p1');
  const pid = Number(g.meta.pid);
  const paused = await hv.pause(g);
  t.deepEqual(paused.meta, { paused: '1' });
  t.is((await readProcStat(pid))?.state, 'T', 'the kernel shows it stopped');
  t.is(await get(url, 500), 'timeout', 'a paused guest answers no request');
  // Still discovered as running (alive, its memory kept): a restart adopts it, never undoes it.
  t.true((await hv.discover()).find((x) => x.id === g.id)?.running);
  t.deepEqual([...(await hv.gone([g]))], [], 'paused is not gone');

  const t0 = performance.now();
  const resumed = await hv.unpause({ ...g, meta: { ...g.meta, ...paused.meta } });
  t.deepEqual(resumed.meta, { paused: '0' });
  t.is(await get(url, 2000), 200);
  const ms = performance.now() - t0;
  t.true(ms < 1000, `unpause to a 200 took ${ms.toFixed(0)} ms`);
  t.not((await readProcStat(pid))?.state, 'T');
});

test('unpausing a guest that is not paused is success; pausing twice keeps it paused', async (t) => {
  const { hv, g, url } = await booted(t, 'web-p2');
  await hv.unpause(g);
  t.is(await get(url, 2000), 200);
  await hv.pause(g);
  await hv.pause(g);
  t.is((await readProcStat(Number(g.meta.pid)))?.state, 'T');
  await hv.unpause(g);
  t.is(await get(url, 2000), 200, 'one unpause is enough (SIGSTOP does not nest)');
});

test('stopping a paused guest ends its process group within the stop timeout and leaves nothing', async (t) => {
  const { dir, hv, g } = await booted(t, 'web-p3');
  const pid = Number(g.meta.pid);
  await hv.pause(g);
  const t0 = performance.now();
  await hv.stop({ ...g, state: 'warm', meta: { ...g.meta, paused: '1' } }, 5_000);
  const ms = performance.now() - t0;
  t.false(isSameLiveProcess(await readProcStat(pid)));
  t.false(await groupAlive(pid));
  // SIGTERM then SIGCONT: the guest drains and exits on its own, no wait for the SIGKILL.
  t.true(ms < 4_000, `stopped in ${ms.toFixed(0)} ms`);
  await hv.deleteClone(g);
  t.deepEqual(await readdir(path.join(dir, 'web')), []);
  t.deepEqual(await hv.discover(), []);
});

test('pausing or unpausing a guest whose process is gone rejects GH_BOOT_FAILED', async (t) => {
  const { hv, g } = await booted(t, 'web-p4');
  await hv.stop(g, 5_000);
  for (const step of [() => hv.pause(g), () => hv.unpause(g)]) {
    const e = await t.throwsAsync(step());
    t.true(e instanceof GridhostError);
    t.is((e as GridhostError).code, 'GH_BOOT_FAILED');
  }
});
