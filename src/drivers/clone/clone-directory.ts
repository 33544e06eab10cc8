// Clone a base-image directory for one local guest: a reflink (copy-on-write, instant, no
// extra space) where the filesystem supports it, else a plain copy. `cp` is run through
// execFile with argument arrays: no shell ever sees a path.
import { execFile } from 'node:child_process';
import { rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { CloneMethod } from '../../domain/policy.ts';
import { GridhostError } from '../../errors/errors.ts';

const execFileAsync = promisify(execFile);

export type LocalCloneResult = 'reflink' | 'copy';

/** Clone methods a directory-based (local) guest can use. */
export const LOCAL_CLONE_METHODS: readonly CloneMethod[] = ['auto', 'reflink', 'copy'];

/**
 * Clone directory `src` to `dst` (which must not exist; its parent must).
 * `reflink` fails with GH_CLONE_FAILED where reflinks are unsupported; `auto` falls back to a
 * copy and resolves with the method actually used. A failed clone leaves no `dst` behind.
 * Rejects: GH_TEMPLATE_INVALID (method not valid for directories, `src` not a directory),
 * GH_OUT_OF_CAPACITY (no space left), GH_CLONE_FAILED (anything else).
 */
export async function cloneDirectory(src: string, dst: string, method: CloneMethod): Promise<LocalCloneResult> {
  if (!LOCAL_CLONE_METHODS.includes(method)) {
    throw new GridhostError('GH_TEMPLATE_INVALID', `clone method "${method}" is not valid for a directory image; use auto, reflink or copy`, { method });
  }
  const srcStat = await stat(src).catch(() => undefined);
  if (!srcStat?.isDirectory()) {
    throw new GridhostError('GH_TEMPLATE_INVALID', `base image ${src} is not a directory; point guest.image at the image directory`, { image: src });
  }
  if (await exists(dst)) {
    throw new GridhostError('GH_CLONE_FAILED', `clone target ${dst} already exists; delete the leftover clone first`, { clonePath: dst });
  }

  if (method === 'reflink' || method === 'auto') {
    const err = await runCp(src, dst, 'always');
    if (!err) return 'reflink';
    await rm(dst, { recursive: true, force: true });
    if (method === 'reflink') throw cpError(err, src, dst, 'reflink');
  }
  const err = await runCp(src, dst, 'never');
  if (!err) return 'copy';
  await rm(dst, { recursive: true, force: true });
  throw cpError(err, src, dst, 'copy');
}

/** Runs `cp -a --reflink=<mode> src dst`; resolves with cp's error text, or undefined on success. */
async function runCp(src: string, dst: string, mode: 'always' | 'never'): Promise<string | undefined> {
  try {
    // `--` so a path starting with '-' is never read as an option.
    await execFileAsync('cp', ['-a', `--reflink=${mode}`, '--', src, dst]);
    return undefined;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    return stderr || (e instanceof Error ? e.message : String(e));
  }
}

function cpError(detail: string, src: string, dst: string, method: 'reflink' | 'copy'): GridhostError {
  if (/no space left/i.test(detail)) {
    return new GridhostError('GH_OUT_OF_CAPACITY', `no space left to clone ${src} to ${dst}: ${detail}`, { image: src, clonePath: dst });
  }
  const hint =
    method === 'reflink'
      ? ' (the guests directory must be on a filesystem with reflink support, e.g. XFS with reflink=1 or Btrfs; or use clone: auto)'
      : '';
  return new GridhostError('GH_CLONE_FAILED', `${method} of ${src} to ${dst} failed: ${detail}${hint}`, { image: src, clonePath: dst, method });
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
