// Durations as written in policy and config files: `500ms`, `5s`, `2m`, `1h30m`, `1d`.
// Pure: no clock, no I/O. Bare numbers are rejected on purpose: "5" could mean s or ms.

import { GridhostError, shortFound } from '../errors/errors.ts';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
/** Largest unit first; a duration lists each unit at most once, in this order. */
const ORDER: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

const HINT = 'units are ms, s, m, h, d (e.g. 500ms, 5s, 2m, 1h30m, 1d)';

/** Parse without throwing; the message says what to fix. */
export function tryParseDuration(text: string): DurationResult {
  if (typeof text !== 'string') return { ok: false, message: `a duration must be a string; ${HINT}` };
  if (text.length === 0) return { ok: false, message: `a duration cannot be empty; ${HINT}` };
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) return { ok: false, message: `a duration needs a unit; ${HINT}` };
  if (text.startsWith('-')) return { ok: false, message: 'a duration cannot be negative' };
  const part = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/y;
  let ms = 0;
  let last = -1;
  let pos = 0;
  while (pos < text.length) {
    part.lastIndex = pos;
    const m = part.exec(text);
    if (m === null) return { ok: false, message: `cannot read ${JSON.stringify(shortFound(text.slice(pos)))} as a duration; ${HINT}` };
    const unit = m[2] as Unit;
    const rank = ORDER.indexOf(unit);
    if (rank <= last) return { ok: false, message: `units must appear once each, largest first (e.g. 1h30m); ${HINT}` };
    last = rank;
    ms += Number(m[1]) * UNIT_MS[unit];
    pos = part.lastIndex;
  }
  // Fractions are allowed (1.5h) as long as they land on a whole millisecond.
  const rounded = Math.round(ms);
  if (Math.abs(rounded - ms) > 1e-6) return { ok: false, message: 'a duration must be a whole number of milliseconds' };
  if (!Number.isSafeInteger(rounded)) return { ok: false, message: 'duration is too large' };
  return { ok: true, ms: rounded };
}

/** Parse a duration to milliseconds; throws GridhostError GH_BAD_REQUEST on bad input. */
export function parseDuration(text: string): number {
  const r = tryParseDuration(text);
  if (!r.ok) throw new GridhostError('GH_BAD_REQUEST', `invalid duration ${JSON.stringify(shortFound(text))}: ${r.message}`, { found: shortFound(text) });
  return r.ms;
}

/** Milliseconds back to the shortest written form: 5_400_000 -> "1h30m", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new GridhostError('GH_BAD_REQUEST', `cannot format ${ms} as a duration: need a whole number of ms >= 0`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ORDER) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  return out;
}
