// LocalHypervisor against real processes on the loopback.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import axios from 'axios';
import { checkHealth, waitHealthy } from '../../../src/drivers/health/http-health.ts';
import { LocalHypervisor, type DriverLogger } from '../../../src/drivers/hypervisor/local/local-hypervisor.ts';
import { isSameLiveProcess, readProcStat } from '../../../src/drivers/hypervisor/local/proc-stat.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { FIXTURES, WEB_IMAGE, eventually, guestOf, guestsDir, makePolicy, spec } from './helpers.ts';

const alive = async (pid: number): Promise<boolean> => isSameLiveProcess(await readProcStat(pid));

function portOpen(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

function recordingLogger(): DriverLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`) };
}

test('clone, boot, healthy, graceful stop and deleteClone leave nothing behind', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-a1', makePolicy());
  const c = await hv.clone(s);
  t.is(c.meta.clonePath, path.join(dir, 'web', 'web-a1'));
  t.is(c.meta.cloneMethod, 'copy'); // ext4 here: auto fell back
  const b = await hv.boot(s, c.meta);
  t.regex(b.address ?? '', /^127\.0\.0\.1:\d+$/);
  const pid = Number(b.meta.pid);
  t.true(await alive(pid));
  t.is(Number(b.meta.startTime), (await readProcStat(pid))?.startTime ?? -1);

  await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 10_000, intervalMs: 50 });
  const res = await axios.get(`http://${b.address}/work`);
  t.regex(res.data as string, /^web-a1 worked/);

  const g = guestOf(s, c, b);
  await hv.stop(g, 10_000);
  t.false(await alive(pid));
  t.false(await portOpen(b.address ?? ''));
  const log = await readFile(path.join(c.meta.clonePath ?? '', 'guest.log'), 'utf8');
  t.regex(log, /SIGTERM: draining/, 'the guest got SIGTERM');
  t.regex(log, /web-a1 stopped/, 'and exited on its own');

  await hv.deleteClone(g);
  t.deepEqual(await readdir(path.join(dir, 'web')), []);
  t.deepEqual(await hv.discover(), []);
});

test('a guest that ignores SIGTERM is SIGKILLed after the stop timeout', async (t) => {
  const dir = await guestsDir(t);
  const logger = recordingLogger();
  const hv = new LocalHypervisor({ guestsDir: dir, logger });
  const s = spec('web-b1', makePolicy({ template: path.join(FIXTURES, 'stubborn.local.yaml'), image: path.join(FIXTURES, 'stubborn') }));
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  await waitHealthy(`http://${b.address}/`, { timeoutMs: 10_000, intervalMs: 50 });
  const pid = Number(b.meta.pid);
  await hv.stop(guestOf(s, c, b), 300);
  t.false(await alive(pid));
  t.regex(await readFile(path.join(c.meta.clonePath ?? '', 'guest.log'), 'utf8'), /got SIGTERM, ignoring it/);
  t.true(logger.lines.includes('warn guest ignored SIGTERM; killing it'));
});

test('stop ends the whole process group, not just the main process', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const image = path.join(FIXTURES, 'family');
  // The family image has no server.mjs of its own: the web server is copied in after cloning.
  const s = spec('web-c1', makePolicy({ template: path.join(FIXTURES, 'family.local.yaml'), image }));
  const c = await hv.clone(s);
  await writeFile(path.join(c.meta.clonePath ?? '', 'server.mjs'), await readFile(path.join(WEB_IMAGE, 'server.mjs')));
  const b = await hv.boot(s, c.meta);
  await waitHealthy(`http://${b.address}/healthz`, { timeoutMs: 10_000, intervalMs: 50 });
  const sleeper = Number((await readFile(path.join(c.meta.clonePath ?? '', 'sleeper.pid'), 'utf8')).split(' ')[1]);
  t.true(await alive(sleeper));
  t.is((await readProcStat(sleeper))?.pgrp, Number(b.meta.pid));
  await hv.stop(guestOf(s, c, b), 5000);
  t.false(await alive(Number(b.meta.pid)));
  t.true(await eventually(async () => !(await alive(sleeper))), 'the background child is gone too');
});

test('a template whose command does not exist fails with GH_BOOT_FAILED and leaves nothing running', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-d1', makePolicy({ template: path.join(FIXTURES, 'missing-command.local.yaml') }));
  const c = await hv.clone(s);
  const e = await t.throwsAsync(hv.boot(s, c.meta), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_BOOT_FAILED');
  t.regex(e?.message ?? '', /gridhost-no-such-command-xyz/);
  t.regex(e?.message ?? '', /ENOENT/);
  const found = await hv.discover();
  t.deepEqual(found.map((g) => [g.id, g.running]), [['web-d1', false]]);
  // The controller's cleanup path succeeds with the meta it has.
  await hv.stop(guestOf(s, c), 1000);
  await hv.deleteClone(guestOf(s, c));
  t.false(existsSync(c.meta.clonePath ?? ''));
});

test('a guest that exits right after starting fails with GH_BOOT_FAILED quoting its log', async (t) => {
  const dir = await guestsDir(t);
  // A generous grace window: on a loaded machine even `sh` can take a while to start and exit.
  const hv = new LocalHypervisor({ guestsDir: dir, bootGraceMs: 3000 });
  const s = spec('web-e1', makePolicy({ template: path.join(FIXTURES, 'crash.local.yaml') }));
  const c = await hv.clone(s);
  const e = await t.throwsAsync(hv.boot(s, c.meta), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_BOOT_FAILED');
  t.regex(e?.message ?? '', /boom: cannot start web-e1/, 'placeholders were substituted and the log tail is quoted');
  t.regex(e?.message ?? '', /exited with code 3/);
  const found = await hv.discover();
  t.deepEqual(found.map((g) => [g.id, g.running]), [['web-e1', false]]);
});

test('an invalid template fails boot with GH_TEMPLATE_INVALID naming the file', async (t) => {
  const dir = await guestsDir(t);
  const bad = path.join(dir, 'bad.local.yaml');
  await writeFile(bad, 'command: node\nargs: ["{{secret}}"]\n');
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-f1', makePolicy({ template: bad }));
  const c = await hv.clone(s);
  const e = await t.throwsAsync(hv.boot(s, c.meta), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_TEMPLATE_INVALID');
  t.true(e?.message.includes(bad));
});

test('booting a guest that is already running is GH_NAME_IN_USE', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-g1', makePolicy());
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const e = await t.throwsAsync(hv.boot(s, c.meta), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_NAME_IN_USE');
  t.true(await alive(Number(b.meta.pid)), 'the running guest is untouched');
  await hv.stop(guestOf(s, c, b), 5000);
});

test('a new driver instance on the same guests dir discovers the running guest and can stop it', async (t) => {
  const dir = await guestsDir(t);
  const first = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-h1', makePolicy());
  const c = await first.clone(s);
  const b = await first.boot(s, c.meta);
  await first.close();

  const second = new LocalHypervisor({ guestsDir: dir });
  const found = await second.discover();
  t.is(found.length, 1);
  const g = found[0]!;
  t.like(g, { id: 'web-h1', pool: 'web', host: 'localhost', address: b.address, running: true });
  t.like(g.meta, { pid: b.meta.pid, port: b.meta.port, startTime: b.meta.startTime, clonePath: c.meta.clonePath, cloneMethod: 'copy' });
  await waitHealthy(`http://${g.address}/healthz`, { timeoutMs: 10_000, intervalMs: 50 });

  await second.stop({ ...guestOf(s), meta: g.meta }, 5000);
  t.false(await alive(Number(b.meta.pid)));
  const after = await second.discover();
  t.deepEqual(after.map((x) => [x.id, x.running]), [['web-h1', false]]);
});

test('stop without stored meta finds the process through the clone record', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-i1', makePolicy());
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  await hv.stop(guestOf(s, c), 5000); // only the clone's meta: as if gridhost died mid-boot
  t.false(await alive(Number(b.meta.pid)));
});

test('stop of a guest that already died succeeds', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-j1', makePolicy());
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const pid = Number(b.meta.pid);
  process.kill(-pid, 'SIGKILL');
  t.true(await eventually(async () => !(await alive(pid))));
  await t.notThrowsAsync(hv.stop(guestOf(s, c, b), 1000));
  await t.notThrowsAsync(hv.stop(guestOf(s, c, b), 1000), 'and again');
  await t.notThrowsAsync(hv.stop(guestOf(s), 1000), 'and with no meta at all');
});

test('a reused pid (start time differs) is not signalled', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const bystander = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  const pid = bystander.pid as number;
  t.teardown(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  const real = (await readProcStat(pid))?.startTime ?? 0;
  t.true(real > 0);
  const s = spec('web-k1', makePolicy());
  const g = { ...guestOf(s), meta: { pid: String(pid), startTime: String(real - 1) } };
  await hv.stop(g, 200);
  t.true(await alive(pid), 'the unrelated process was left alone');
  t.is(bystander.exitCode, null);
  t.is(bystander.signalCode, null);
});

test('deleteClone refuses a clone path outside the guests dir', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-l1', makePolicy());
  const e = await t.throwsAsync(hv.deleteClone({ ...guestOf(s), meta: { clonePath: path.dirname(dir) } }), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_CLONE_FAILED');
  t.true(existsSync(dir));
});

test('the example guest reports unhealthy while a file named unhealthy exists in its clone', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-m1', makePolicy());
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const url = `http://${b.address}/healthz`;
  await waitHealthy(url, { timeoutMs: 10_000, intervalMs: 50 });
  await writeFile(path.join(c.meta.clonePath ?? '', 'unhealthy'), '');
  t.false(await checkHealth(url, 2000));
  await hv.stop(guestOf(s, c, b), 5000);
});

test('discover on a guests dir that does not exist yet finds nothing', async (t) => {
  const dir = await guestsDir(t);
  t.deepEqual(await new LocalHypervisor({ guestsDir: path.join(dir, 'not-yet') }).discover(), []);
});

test('an unsafe guest id is refused before anything is created', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  for (const id of ['../escape', 'a/b', '.hidden', '']) {
    const e = await t.throwsAsync(hv.clone(spec(id, makePolicy())), { instanceOf: GridhostError });
    t.is(e?.code, 'GH_CLONE_FAILED', id);
  }
  t.deepEqual(await readdir(dir), []);
});

test('gone names a guest killed from outside, not one that runs or is only stopped (SIGSTOP)', async (t) => {
  const dir = await guestsDir(t);
  const hv = new LocalHypervisor({ guestsDir: dir });
  const boot = async (id: string) => {
    const s = spec(id, makePolicy());
    const c = await hv.clone(s);
    const b = await hv.boot(s, c.meta);
    return guestOf(s, c, b);
  };
  const [running, stopped, killed] = await Promise.all([boot('web-g1'), boot('web-g2'), boot('web-g3')]);
  process.kill(-Number(stopped.meta.pid), 'SIGSTOP');
  process.kill(-Number(killed.meta.pid), 'SIGKILL');
  await eventually(async () => !(await alive(Number(killed.meta.pid))));
  t.deepEqual([...(await hv.gone([running, stopped, killed]))], ['web-g3']);
  // A pid reused by another process is not the guest: its start time differs.
  t.deepEqual([...(await hv.gone([{ ...running, meta: { ...running.meta, startTime: '1' } }]))], ['web-g1']);
  process.kill(-Number(stopped.meta.pid), 'SIGCONT');
  for (const g of [running, stopped, killed]) {
    await hv.stop(g, 2000);
    await hv.deleteClone(g);
  }
});
