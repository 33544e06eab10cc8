// Digests of what a guest is made from, for rollouts (decision/rollout-plan.ts): sha256 of a
// template's bytes, and of a local base image (a directory tree). A base image may be large and
// is digested every few seconds while a pool is checked for outdated guests: each file's sha256
// is computed once and cached by (path, size, mtime, inode), so an unchanged tree costs one
// stat per file. A file rewritten in place with the same size and mtime (rare: cp, rsync and
// editors all set a new mtime) would be missed; a new directory, a new or removed file, a
// changed mode or symlink target, or any changed content with a new mtime is seen.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { GridhostError } from '../../errors/errors.ts';

export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

const MAX_CACHED = 50_000;
const fileCache = new Map<string, string>();

async function fileSha(file: string, key: string): Promise<string> {
  const hit = fileCache.get(key);
  if (hit !== undefined) return hit;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  const d = h.digest('hex');
  if (fileCache.size >= MAX_CACHED) fileCache.clear();
  fileCache.set(key, d);
  return d;
}

/**
 * `sha256:<hex>` over every entry of the tree under `root` (relative path, type, mode, and the
 * content's sha256 or the link's target), in sorted order. Rejects GH_TEMPLATE_INVALID when the
 * tree cannot be read.
 */
export async function directoryDigest(root: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const dir = path.join(root, rel);
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = path.join(root, r);
      const st = await lstat(abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        lines.push(`d ${mode} ${r}`);
        await walk(r);
      } else if (st.isSymbolicLink()) {
        lines.push(`l ${r} -> ${await readlink(abs)}`);
      } else if (st.isFile()) {
        lines.push(`f ${mode} ${r} ${await fileSha(abs, `${abs}\0${st.size}\0${st.mtimeMs}\0${st.ino}`)}`);
      }
    }
  };
  try {
    await walk('');
  } catch (e) {
    throw new GridhostError('GH_TEMPLATE_INVALID', `cannot digest base image ${root}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { image: root });
  }
  return `sha256:${sha256(lines.join('\n'))}`;
}
