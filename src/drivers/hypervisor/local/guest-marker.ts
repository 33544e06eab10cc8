// Every local guest process carries a marker in its environment: the guests folder of the
// gridhost that started it, and its guest id and pool. A gridhost killed between spawning a
// guest and writing its guest.json (the spawn-to-record gap) leaves a process that no record
// names; discovery finds it by this marker instead (/proc/<pid>/environ, readable by the same
// user), so the reconciler can stop it. The folder scopes the search: several gridhosts (tests,
// or two installations) on one machine never find each other's guests.
import { readFile } from 'node:fs/promises';
import { listPids, readProcStat, type ProcStat } from './proc-stat.ts';

export const MARK_DIR = 'GRIDHOST_GUESTS_DIR';
export const MARK_ID = 'GRIDHOST_GUEST_ID';
export const MARK_POOL = 'GRIDHOST_GUEST_POOL';

export function markerEnv(guestsDir: string, id: string, pool: string): Record<string, string> {
  return { [MARK_DIR]: guestsDir, [MARK_ID]: id, [MARK_POOL]: pool };
}

/** Parses a NUL-separated environ text into its marker, when it has one for `guestsDir`. */
export function parseMarker(environ: string, guestsDir: string): { id: string; pool: string } | undefined {
  const vars = new Map<string, string>();
  for (const kv of environ.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) vars.set(kv.slice(0, i), kv.slice(i + 1));
  }
  const id = vars.get(MARK_ID);
  const pool = vars.get(MARK_POOL);
  if (vars.get(MARK_DIR) !== guestsDir || !id || !pool) return undefined;
  return { id, pool };
}

export interface MarkedProcess {
  id: string;
  pool: string;
  /** The group leader: the process gridhost spawned (detached, so it leads its group). */
  stat: ProcStat;
}

/** Live processes marked as guests of `guestsDir`, one per guest (its group leader). */
export async function findMarked(guestsDir: string): Promise<Map<string, MarkedProcess>> {
  const out = new Map<string, MarkedProcess>();
  for (const pid of await listPids()) {
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours to read
    }
    const m = parseMarker(text, guestsDir);
    if (!m) continue;
    const stat = await readProcStat(pid);
    if (!stat || stat.state === 'Z') continue;
    // Children inherit the marker: keep the group leader (the spawned process).
    const cur = out.get(m.id);
    if (!cur || stat.pid === stat.pgrp || (cur.stat.pid !== cur.stat.pgrp && stat.startTime < cur.stat.startTime)) out.set(m.id, { ...m, stat });
  }
  return out;
}
