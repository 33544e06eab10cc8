// Clone and delete commands per clone method, as argv arrays for SshHost.exec (quoted there).
import type { CloneMethod } from '../../domain/policy.ts';
import { GridhostError } from '../../errors/errors.ts';
import { assertSafeName, assertSafePath } from '../ssh/shell-quote.ts';

export interface ClonePlan {
  method: Exclude<CloneMethod, 'auto'> | 'auto';
  /** What the guest's disk is: a file path or /dev/VG/LV. */
  target: string;
  /** xl.cfg disk format. */
  format: 'raw' | 'qcow2';
  create: string[];
  remove: string[];
}

/**
 * The clone of `base` for guest `id`. File methods put the clone next to the base image
 * (`<dir>/<id>.img`, or `.qcow2`); lvm-snapshot takes `base` as /dev/VG/LV and makes /dev/VG/<id>.
 * `auto` lets cp reflink when the filesystem can and copy otherwise.
 */
export function clonePlan(method: CloneMethod, base: string, id: string, opts: { snapshotSize?: string } = {}): ClonePlan {
  assertSafePath(base);
  assertSafeName(id);
  const dir = base.slice(0, base.lastIndexOf('/')) || '/';
  const file = (ext: string): string => `${dir === '/' ? '' : dir}/${id}.${ext}`;
  switch (method) {
    case 'reflink': {
      const target = file('img');
      return { method, target, format: 'raw', create: ['cp', '--reflink=always', '--', base, target], remove: ['rm', '-f', '--', target] };
    }
    case 'auto': {
      const target = file('img');
      return { method, target, format: 'raw', create: ['cp', '--reflink=auto', '--', base, target], remove: ['rm', '-f', '--', target] };
    }
    case 'copy': {
      const target = file('img');
      return { method, target, format: 'raw', create: ['cp', '--', base, target], remove: ['rm', '-f', '--', target] };
    }
    case 'qcow2': {
      const target = file('qcow2');
      return {
        method,
        target,
        format: 'qcow2',
        create: ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', base, target],
        remove: ['rm', '-f', '--', target],
      };
    }
    case 'lvm-snapshot': {
      const m = /^\/dev\/([^/]+)\/([^/]+)$/.exec(base);
      if (!m) throw new GridhostError('GH_TEMPLATE_INVALID', `lvm-snapshot needs the image as /dev/VG/LV, got ${base}`, { image: base });
      const [vg, lv] = [assertSafeName(m[1] as string), assertSafeName(m[2] as string)];
      const size = opts.snapshotSize ?? '256M';
      if (!/^\d+[KMGT]?$/.test(size)) throw new GridhostError('GH_UNSAFE_ARGUMENT', `snapshot size ${JSON.stringify(size)} is not like 256M`);
      return {
        method,
        target: `/dev/${vg}/${id}`,
        format: 'raw',
        create: ['lvcreate', '-q', '-s', '-n', id, '-L', size, `${vg}/${lv}`],
        remove: ['lvremove', '-q', '-f', `${vg}/${id}`],
      };
    }
    default:
      throw new GridhostError('GH_TEMPLATE_INVALID', `unknown clone method ${String(method)}`);
  }
}
