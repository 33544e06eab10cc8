// What a local guest records it was made from (template and base image digests), and what the
// driver says they are now: the facts a rollout compares (decision/rollout-plan.ts).
import test from 'ava';
import { chmod, cp, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { directoryDigest } from '../../../src/drivers/clone/source-digest.ts';
import { LocalHypervisor } from '../../../src/drivers/hypervisor/local/local-hypervisor.ts';
import { GridhostError } from '../../../src/errors/errors.ts';
import { WEB_IMAGE, WEB_TEMPLATE, guestOf, guestsDir, makePolicy, spec } from './helpers.ts';

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gh-digest-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a directory digest changes with a file\'s content, a new file, a mode or a symlink, and not otherwise', async (t) => {
  const dir = await tmp(t);
  const img = path.join(dir, 'img');
  await cp(WEB_IMAGE, img, { recursive: true });
  const d0 = await directoryDigest(img);
  t.regex(d0, /^sha256:[0-9a-f]{64}$/);
  t.is(await directoryDigest(img), d0, 'the same tree, the same digest');
  const copy = path.join(dir, 'copy');
  await cp(img, copy, { recursive: true });
  t.is(await directoryDigest(copy), d0, 'a copy elsewhere has the same digest (paths are relative)');

  const server = path.join(img, 'server.mjs');
  const text = await readFile(server, 'utf8');
  await writeFile(server, `${text}// edited\n`);
  const d1 = await directoryDigest(img);
  t.not(d1, d0, 'edited content');
  await writeFile(path.join(img, 'unhealthy'), '');
  const d2 = await directoryDigest(img);
  t.not(d2, d1, 'a new file');
  await chmod(path.join(img, 'unhealthy'), 0o755);
  const d3 = await directoryDigest(img);
  t.not(d3, d2, 'a changed mode');
  await symlink('server.mjs', path.join(img, 'link'));
  t.not(await directoryDigest(img), d3, 'a symlink');
});

test('content rewritten with a new mtime is seen although the size is the same (the cache keys on mtime)', async (t) => {
  const dir = await tmp(t);
  const f = path.join(dir, 'a.txt');
  await writeFile(f, 'aaaa');
  await utimes(f, 1000, 1000);
  const d0 = await directoryDigest(dir);
  await writeFile(f, 'bbbb');
  await utimes(f, 2000, 2000);
  t.not(await directoryDigest(dir), d0);
});

test('an image that cannot be read is GH_TEMPLATE_INVALID', async (t) => {
  const err = await t.throwsAsync(directoryDigest('/nonexistent/gridhost-image'), { instanceOf: GridhostError });
  t.is(err?.code, 'GH_TEMPLATE_INVALID');
});

test('a local guest records the digests of the template and image it was made from, and sourceDigest follows edits', async (t) => {
  const dir = await guestsDir(t);
  const work = await tmp(t);
  const template = path.join(work, 'web.local.yaml');
  await writeFile(template, await readFile(WEB_TEMPLATE, 'utf8'));
  const image = path.join(work, 'web');
  await cp(WEB_IMAGE, image, { recursive: true });
  const policy = makePolicy({ template, image });
  const hv = new LocalHypervisor({ guestsDir: dir });
  const s = spec('web-d1', policy);
  const c = await hv.clone(s);
  const b = await hv.boot(s, c.meta);
  const g = guestOf(s, c, b);
  t.teardown(() => hv.stop(g, 2000));
  const now = await hv.sourceDigest(policy);
  t.deepEqual(now, { template: g.meta.templateDigest, image: g.meta.imageDigest });
  t.regex(now.template, /^sha256:[0-9a-f]{64}$/);

  await writeFile(template, `${await readFile(template, 'utf8')}# edited\n`);
  const edited = await hv.sourceDigest(policy);
  t.not(edited.template, g.meta.templateDigest);
  t.is(edited.image, g.meta.imageDigest!);
  await writeFile(path.join(image, 'unhealthy'), '');
  t.not((await hv.sourceDigest(policy)).image, g.meta.imageDigest);
});
