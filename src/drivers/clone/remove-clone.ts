// Delete a local guest's clone, refusing any path that is not strictly inside the guests
// directory: a corrupted meta or a symlinked pool folder must never make us rm elsewhere.
import { realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { GridhostError } from '../../errors/errors.ts';

/** True when `p` is strictly below `root` (not `root` itself), both as given (lexically). */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(path.resolve(root), path.resolve(p));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Remove the clone directory `clonePath`, which must lie inside `guestsDir`. Idempotent: a clone
 * that is already gone is success. Rejects with GH_CLONE_FAILED when the path is outside the
 * guests directory (also after resolving symlinks of its parent) or deletion fails.
 */
export async function removeClone(clonePath: string, guestsDir: string): Promise<void> {
  if (!isInside(guestsDir, clonePath)) {
    throw new GridhostError('GH_CLONE_FAILED', `refusing to delete ${clonePath}: it is not inside the guests directory ${guestsDir}`, { clonePath });
  }
  // Resolve symlinks in the parent (the clone itself may be a symlink: rm removes just the link).
  const parent = await realpath(path.dirname(path.resolve(clonePath))).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new GridhostError('GH_CLONE_FAILED', `cannot resolve ${clonePath}: ${e.message}`, { clonePath }, { cause: e });
  });
  if (parent === undefined) return; // parent gone: so is the clone
  const root = await realpath(guestsDir).catch(() => path.resolve(guestsDir));
  const real = path.join(parent, path.basename(clonePath));
  if (!isInside(root, real)) {
    throw new GridhostError('GH_CLONE_FAILED', `refusing to delete ${clonePath}: it resolves to ${real}, outside the guests directory ${root}`, { clonePath });
  }
  try {
    await rm(real, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    throw new GridhostError('GH_CLONE_FAILED', `deleting clone ${real} failed: ${(e as Error).message}`, { clonePath }, { cause: e });
  }
}
