// The record each boot writes into `<clone>/guest.json`, so a restarted gridhost adopts the guest
// (discover()) or stops it (stop() without stored meta). Written twice: right after the spawn
// (pid and start time: the process is findable from then on), and again once the guest listens
// (its port and address, which the guest chose: see listening-port.ts).
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface GuestRecord {
  id: string;
  pool: string;
  pid: number;
  /** Absent until the guest listens. */
  port?: number;
  address?: string;
  startTime: number;
  clonePath: string;
  cloneMethod?: string;
  bootedAt: string;
}

export const GUEST_RECORD = 'guest.json';

export async function readRecord(dir: string): Promise<GuestRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(path.join(dir, GUEST_RECORD), 'utf8')) as Partial<GuestRecord>;
    if (typeof r.id !== 'string' || typeof r.pool !== 'string' || !Number.isInteger(r.pid) || !Number.isInteger(r.startTime)) return undefined;
    if (r.port !== undefined && !Number.isInteger(r.port)) return undefined;
    return r as GuestRecord;
  } catch {
    return undefined;
  }
}

export async function writeRecord(dir: string, rec: GuestRecord): Promise<void> {
  const file = path.join(dir, GUEST_RECORD);
  await writeFile(`${file}.tmp`, `${JSON.stringify(rec, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}
