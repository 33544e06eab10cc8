// The dom0 fence script, run for real by bash and flock(1) here (dom0 runs the same two).
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DriverFence } from '../hypervisor/hypervisor.ts';
import { FENCED_EXIT, fencedArgv, fencedReason, isFencedRefusal } from './dom0-fence.ts';

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'gridhost-fence-'));
  dirs.push(d);
  return d;
}

function run(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lease = (acquiredAt: number, token: number, holder = 'h1/1/ab'): DriverFence => ({ pool: 'web', token, holder, acquiredAt });
const fencedRun = (dir: string, f: DriverFence, argv: string[]) => run(fencedArgv(join(dir, '.fence'), f, argv));

test('the first lease runs its command and is recorded as the newest on the host', async (t) => {
  const d = tmp();
  const r = await fencedRun(d, lease(1000, 1), ['echo', 'made']);
  t.is(r.code, 0);
  t.is(r.stdout, 'made\n');
  t.is(readFileSync(join(d, '.fence', 'web'), 'utf8'), '1000 1 h1/1/ab\n');
});

test('an older lease is refused with the fenced exit and its command does not run', async (t) => {
  const d = tmp();
  t.is((await fencedRun(d, lease(2000, 4), ['true'])).code, 0);
  const r = await fencedRun(d, lease(1000, 3), ['touch', join(d, 'ran')]);
  t.is(r.code, FENCED_EXIT);
  t.true(isFencedRefusal(r));
  t.regex(fencedReason(r.stderr), /newer lease \(token 4 taken at 2000 by h1\/1\/ab\) than this command's \(token 3 taken at 1000\)/);
  t.false(existsSync(join(d, 'ran')));
});

test('a lease taken later wins even with a lower token (a reset store), and the old store\'s leader is then refused', async (t) => {
  const d = tmp();
  t.is((await fencedRun(d, lease(1000, 57, 'old'), ['true'])).code, 0);
  t.is((await fencedRun(d, lease(5000, 1, 'new'), ['true'])).code, 0);
  const stale = await fencedRun(d, lease(1000, 57, 'old'), ['true']);
  t.true(isFencedRefusal(stale));
});

test('with the same acquiredAt the higher token wins', async (t) => {
  const d = tmp();
  t.is((await fencedRun(d, lease(1000, 2), ['true'])).code, 0);
  t.is((await fencedRun(d, lease(1000, 3), ['true'])).code, 0);
  t.true(isFencedRefusal(await fencedRun(d, lease(1000, 2), ['true'])));
});

test('the current lease runs again and again; its command\'s own exit status passes through unchanged', async (t) => {
  const d = tmp();
  for (let i = 0; i < 3; i++) t.is((await fencedRun(d, lease(1000, 1), ['true'])).code, 0);
  const failed = await fencedRun(d, lease(1000, 1), ['sh', '-c', 'echo nope >&2; exit 3']);
  t.is(failed.code, 3);
  t.false(isFencedRefusal(failed));
  t.is(failed.stderr, 'nope\n');
});

test('a newer lease waits for the older lease\'s command still running, and the older lease\'s next command is refused', async (t) => {
  const d = tmp();
  const log = join(d, 'log');
  const old = fencedRun(d, lease(1000, 1), ['sh', '-c', `sleep 1; echo old-done >> ${log}`]);
  await new Promise((r) => setTimeout(r, 300));
  const newer = await fencedRun(d, lease(2000, 2), ['sh', '-c', `echo new-ran >> ${log}`]);
  t.is(newer.code, 0);
  t.is((await old).code, 0);
  t.is(readFileSync(log, 'utf8'), 'old-done\nnew-ran\n', 'the newer lease ran only after the older command had ended');
  t.true(isFencedRefusal(await fencedRun(d, lease(1000, 1), ['true'])));
});

test('commands of the current lease run side by side (the lock is shared among them)', async (t) => {
  const d = tmp();
  await fencedRun(d, lease(1000, 1), ['true']);
  const t0 = Date.now();
  const rs = await Promise.all([1, 2, 3].map(() => fencedRun(d, lease(1000, 1), ['sleep', '1'])));
  t.deepEqual(rs.map((r) => r.code), [0, 0, 0]);
  t.true(Date.now() - t0 < 2500, `three 1 s commands took ${Date.now() - t0} ms: they ran one after another`);
});

test('the command does not inherit the lock (xl create leaves a monitor process that would hold it for the domain\'s life)', async (t) => {
  const d = tmp();
  const r = await fencedRun(d, lease(1000, 1), ['sh', '-c', '[ -e /proc/self/fd/9 ] && echo inherited || echo clean']);
  t.is(r.stdout, 'clean\n');
});

test('a garbled fence file counts as no lease yet', async (t) => {
  const d = tmp();
  await fencedRun(d, lease(1000, 1), ['true']);
  writeFileSync(join(d, '.fence', 'web'), 'x; rm -rf / y\n');
  t.is((await fencedRun(d, lease(1, 1), ['true'])).code, 0);
  t.is(readFileSync(join(d, '.fence', 'web'), 'utf8'), '1 1 h1/1/ab\n');
});

test('an unsafe pool name or a fence without a valid token never reaches a shell', (t) => {
  t.throws(() => fencedArgv('/x', { pool: 'a;b', token: 1, holder: 'h', acquiredAt: 1 }, ['true']), { message: /not safe/ });
  t.throws(() => fencedArgv('/x', { pool: 'a', token: Number.NaN, holder: 'h', acquiredAt: 1 }, ['true']), { instanceOf: RangeError });
  t.is(fencedArgv('/x', { pool: 'a', token: 1, holder: 'h $(id)', acquiredAt: 1 }, ['true'])[8], 'h___id_', 'the holder is reduced to one plain word');
});
