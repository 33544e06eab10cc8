// The dom0 fence on what is done to a running domain: `xl pause` / `xl unpause` (the warm pool)
// and `xl sched-credit2` (reapply) through the real driver, a real sshd on loopback and
// test/drivers/xen/fake-xl.sh. A deposed leader (an older lease than the newest that acted on
// the pool's dom0) is refused with GH_FENCED and nothing reaches xl; the current leader acts.
import test from 'ava';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DriverFence } from '../../../src/drivers/hypervisor/hypervisor.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { guestOf, oneDom0Fixture, xenTemplate } from './one-dom0.ts';

const { setup: setupWith, cleanup } = oneDom0Fixture();
test.after.always(cleanup);
const setup = () => setupWith(xenTemplate(''));

const newer: DriverFence = { pool: 'web', token: 2, holder: 'proc-b', acquiredAt: 2_000 };
const older: DriverFence = { pool: 'web', token: 1, holder: 'proc-a', acquiredAt: 1_000 };

/** A guest booted by the current leader (so dom0's fence file holds `newer`). */
async function booted(e: Awaited<ReturnType<typeof setup>>, id: string, credit?: { weight: number; cap: number }) {
  const spec = { id, pool: 'web', policy: e.policy(credit), fence: newer };
  const c = await e.hv.clone(spec);
  const b = await e.hv.boot(spec, c.meta);
  return guestOf(id, { ...c.meta, ...b.meta });
}
const paused = (e: Awaited<ReturnType<typeof setup>>, dom: string) => existsSync(join(e.state, 'paused', dom));
const calls = (e: Awaited<ReturnType<typeof setup>>, verb: string) => e.argv().filter((a) => a.startsWith(`${verb} `));

test('a deposed leader\'s pause is refused with GH_FENCED and leaves the domain running; the current leader\'s pauses it', async (t) => {
  const e = await setup();
  const g = await booted(e, 'web-p1');
  const err = await t.throwsAsync(e.hv.pause(g, older), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_FENCED');
  t.regex(err!.message, /newer lease \(token 2 taken at 2000 by proc-b\)/);
  t.false(paused(e, 'gh-web-p1'));
  t.deepEqual(calls(e, 'pause'), [], 'xl pause never ran');
  t.deepEqual((await e.hv.pause(g, newer)).meta, { paused: '1' });
  t.true(paused(e, 'gh-web-p1'));
});

test('a deposed leader\'s unpause is refused with GH_FENCED and leaves the warm guest paused; the current leader\'s unpauses it', async (t) => {
  const e = await setup();
  const g = await booted(e, 'web-p2');
  await e.hv.pause(g, newer);
  const err = await t.throwsAsync(e.hv.unpause(g, older), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_FENCED', 'the refusal, not the unpause-failed path (which would ask xl list and say GH_BOOT_FAILED)');
  t.true(paused(e, 'gh-web-p2'));
  t.deepEqual(calls(e, 'unpause'), []);
  t.deepEqual((await e.hv.unpause(g, newer)).meta, { paused: '0' });
  t.false(paused(e, 'gh-web-p2'));
});

test('a deposed leader\'s reapply is refused with GH_FENCED and leaves the domain\'s credit as it was; the current leader\'s sets it', async (t) => {
  const e = await setup();
  const g = await booted(e, 'web-p3', { weight: 512, cap: 50 });
  t.is(e.sched('gh-web-p3'), '512 50');
  const err = await t.throwsAsync(e.restarted().reapply(g, e.policy({ weight: 64, cap: 10 }), older), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_FENCED');
  t.is(e.sched('gh-web-p3'), '512 50');
  t.deepEqual(calls(e, 'sched-credit2'), ['sched-credit2 -d gh-web-p3 -w 512 -c 50'], 'only boot\'s reached xl');
  t.like(await e.restarted().reapply(g, e.policy({ weight: 64, cap: 10 }), newer), { creditWeight: '64', creditCap: '10' });
  t.is(e.sched('gh-web-p3'), '64 10');
});

test('boot\'s credit runs behind the fence too: a newer lease taking the pool between xl create and sched-credit refuses it', async (t) => {
  const e = await setup();
  const spec = { id: 'web-p4', pool: 'web', policy: e.policy({ weight: 512, cap: 50 }), fence: older };
  const c = await e.hv.clone(spec);
  // The newer lease acts on this dom0 (its fence file) once the older one's xl create has run:
  // fake-xl's create hook writes it, as a new leader's first command would.
  writeFileSync(join(e.state, 'after_create'), `printf '2000 2 proc-b\\n' > '${join(e.dir, 'cfg', '.fence', 'web')}'`);
  const err = await t.throwsAsync(e.hv.boot(spec, c.meta), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_FENCED');
  t.deepEqual(calls(e, 'sched-credit2'), [], 'the credit never reached xl');
  t.true(readFileSync(join(e.dir, 'cfg', '.fence', 'web'), 'utf8').startsWith('2000 2 '));
});
