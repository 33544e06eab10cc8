// Clone helpers against real filesystems: the ext4 root (no reflink) and an XFS loop image
// with reflink=1 (needs root and xfsprogs: mkfs.xfs, xfs_io; CI must install xfsprogs).
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cloneDirectory } from '../../../src/drivers/clone/clone-directory.ts';
import { removeClone } from '../../../src/drivers/clone/remove-clone.ts';
import { GridhostError } from '../../../src/errors/errors.ts';

const run = promisify(execFile);

async function makeImage(root: string, bigBytes = 4 * 1024 * 1024): Promise<string> {
  const img = path.join(root, 'image');
  await mkdir(path.join(img, 'sub'), { recursive: true });
  await writeFile(path.join(img, 'server.mjs'), 'console.log("hi")\n');
  await writeFile(path.join(img, 'sub', 'run.sh'), '#!/bin/sh\necho run\n');
  await chmod(path.join(img, 'sub', 'run.sh'), 0o750);
  // Incompressible, so shared extents are real data blocks.
  const big = Buffer.alloc(bigBytes);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
  await writeFile(path.join(img, 'big.bin'), big);
  return img;
}

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gh-clone-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Mounts a fresh 300M XFS (reflink=1) loop image; unmounted and removed at teardown. */
async function mountXfs(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  if (process.getuid?.() !== 0) throw new Error('the XFS reflink test needs root (to mount a loop image)');
  const dir = await mkdtemp(path.join(tmpdir(), 'gh-xfs-'));
  const img = path.join(dir, 'xfs.img');
  const mnt = path.join(dir, 'mnt');
  await mkdir(mnt);
  t.teardown(async () => {
    await run('umount', [mnt]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  await run('truncate', ['-s', '300M', img]);
  try {
    await run('mkfs.xfs', ['-q', '-m', 'reflink=1', img]);
  } catch (e) {
    throw new Error(`mkfs.xfs failed (install xfsprogs): ${(e as Error).message}`);
  }
  await run('mount', ['-o', 'loop', img, mnt]);
  return mnt;
}

/** Extent flags of a file as reported by filefrag -v, e.g. ["shared", "last", "eof"]. */
async function extentFlags(file: string): Promise<string[]> {
  const { stdout } = await run('filefrag', ['-v', file]);
  return stdout
    .split('\n')
    .filter((l) => /^\s*\d+:/.test(l))
    .flatMap((l) => (l.trim().split(/\s+/).pop() ?? '').split(','));
}

test('reflink on a reflink-capable filesystem (XFS) makes a clone that shares extents', async (t) => {
  const mnt = await mountXfs(t);
  const img = await makeImage(mnt);
  const dst = path.join(mnt, 'guests', 'web-1');
  await mkdir(path.dirname(dst));
  t.is(await cloneDirectory(img, dst, 'reflink'), 'reflink');
  t.true((await extentFlags(path.join(dst, 'big.bin'))).includes('shared'), 'clone extents are shared with the image');
  t.deepEqual(await readFile(path.join(dst, 'big.bin')), await readFile(path.join(img, 'big.bin')));
  t.is((await stat(path.join(dst, 'sub', 'run.sh'))).mode & 0o777, 0o750);
});

test('auto uses a reflink where the filesystem supports it', async (t) => {
  const mnt = await mountXfs(t);
  const img = await makeImage(mnt);
  const dst = path.join(mnt, 'web-2');
  t.is(await cloneDirectory(img, dst, 'auto'), 'reflink');
  t.true((await extentFlags(path.join(dst, 'big.bin'))).includes('shared'));
});

test('reflink on ext4 (no reflink support) fails with GH_CLONE_FAILED and leaves no clone', async (t) => {
  const root = await tmp(t);
  const img = await makeImage(root, 64 * 1024);
  const dst = path.join(root, 'web-3');
  const e = await t.throwsAsync(cloneDirectory(img, dst, 'reflink'), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_CLONE_FAILED');
  t.regex(e?.message ?? '', /reflink/);
  await t.throwsAsync(stat(dst), { code: 'ENOENT' });
});

test('auto on ext4 falls back to a full copy and reports copy', async (t) => {
  const root = await tmp(t);
  const img = await makeImage(root, 64 * 1024);
  const dst = path.join(root, 'web-4');
  t.is(await cloneDirectory(img, dst, 'auto'), 'copy');
  t.deepEqual(await readFile(path.join(dst, 'big.bin')), await readFile(path.join(img, 'big.bin')));
  t.is((await stat(path.join(dst, 'sub', 'run.sh'))).mode & 0o777, 0o750);
  t.false((await extentFlags(path.join(dst, 'big.bin'))).includes('shared'));
});

test('copy copies the whole tree', async (t) => {
  const root = await tmp(t);
  const img = await makeImage(root, 4096);
  const dst = path.join(root, 'web-5');
  t.is(await cloneDirectory(img, dst, 'copy'), 'copy');
  t.is(await readFile(path.join(dst, 'server.mjs'), 'utf8'), 'console.log("hi")\n');
});

for (const method of ['lvm-snapshot', 'qcow2'] as const) {
  test(`${method} is not a valid clone method for a directory image (GH_TEMPLATE_INVALID)`, async (t) => {
    const root = await tmp(t);
    const img = await makeImage(root, 4096);
    const e = await t.throwsAsync(cloneDirectory(img, path.join(root, 'x'), method), { instanceOf: GridhostError });
    t.is(e?.code, 'GH_TEMPLATE_INVALID');
  });
}

test('a missing base image is GH_TEMPLATE_INVALID', async (t) => {
  const root = await tmp(t);
  const e = await t.throwsAsync(cloneDirectory(path.join(root, 'nope'), path.join(root, 'x'), 'copy'), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_TEMPLATE_INVALID');
});

test('an existing clone target is GH_CLONE_FAILED and is left untouched', async (t) => {
  const root = await tmp(t);
  const img = await makeImage(root, 4096);
  const dst = path.join(root, 'taken');
  await mkdir(dst);
  await writeFile(path.join(dst, 'keep'), 'x');
  const e = await t.throwsAsync(cloneDirectory(img, dst, 'copy'), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_CLONE_FAILED');
  t.is(await readFile(path.join(dst, 'keep'), 'utf8'), 'x');
});

test('removeClone deletes a clone inside the guests dir and is idempotent', async (t) => {
  const root = await tmp(t);
  const clone = path.join(root, 'web', 'web-1');
  await mkdir(path.join(clone, 'deep'), { recursive: true });
  await writeFile(path.join(clone, 'deep', 'f'), 'x');
  await removeClone(clone, root);
  await t.throwsAsync(stat(clone), { code: 'ENOENT' });
  await t.notThrowsAsync(removeClone(clone, root));
  await t.notThrowsAsync(removeClone(path.join(root, 'gone-pool', 'web-9'), root));
});

for (const [title, rel] of [
  ['the guests dir itself', '.'],
  ['a sibling reached with ..', '../victim'],
  ['a path with .. inside', 'web/../../victim'],
] as const) {
  test(`removeClone refuses ${title}`, async (t) => {
    const root = await tmp(t);
    const guests = path.join(root, 'guests');
    const victim = path.join(root, 'victim');
    await mkdir(guests);
    await mkdir(victim);
    const e = await t.throwsAsync(removeClone(path.join(guests, rel), guests), { instanceOf: GridhostError });
    t.is(e?.code, 'GH_CLONE_FAILED');
    await t.notThrowsAsync(stat(victim));
    await t.notThrowsAsync(stat(guests));
  });
}

test('removeClone refuses a clone whose pool folder is a symlink out of the guests dir', async (t) => {
  const root = await tmp(t);
  const guests = path.join(root, 'guests');
  const outside = path.join(root, 'outside');
  await mkdir(guests);
  await mkdir(path.join(outside, 'web-1'), { recursive: true });
  await symlink(outside, path.join(guests, 'web'));
  const e = await t.throwsAsync(removeClone(path.join(guests, 'web', 'web-1'), guests), { instanceOf: GridhostError });
  t.is(e?.code, 'GH_CLONE_FAILED');
  await t.notThrowsAsync(stat(path.join(outside, 'web-1')));
});
