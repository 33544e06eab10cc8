// Load traces for the simulator: requests per second over time.
// Formats: whitespace-separated numbers (one per line, or many per line as in the shared
// traces), or CSV `time,rps` with an optional header row. `.tbz2`/`.tar.bz2` archives are
// read by spawning `tar -xjOf FILE` (argument array, no shell).
// The parser works on bytes into a Float64Array because the NASA trace has 5 million values.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { GridhostError } from '../errors/errors.ts';

export interface Trace {
  /** Requests per second, one value per step (the mean rate over that step). */
  values: Float64Array;
  /** Length of one step in seconds (1 for plain number files). */
  stepSeconds: number;
  /** Epoch ms of the first step, when the trace says (a CSV whose time column holds ISO-8601 dates). */
  startAt?: number;
}

const NL = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COMMA = 0x2c;
const HASH = 0x23;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function invalid(file: string, message: string, details: Record<string, unknown> = {}): GridhostError {
  return new GridhostError('GH_TRACE_INVALID', `${file}: ${message}`, { file, ...details });
}

/** Growable Float64Array. */
class Values {
  buf = new Float64Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  done(): Float64Array {
    return this.buf.slice(0, this.n);
  }
}

/** Parse a token of bytes [s, e) as a number; NaN when it is not one. Fast path for plain integers. */
function parseNumber(bytes: Uint8Array, s: number, e: number): number {
  let v = 0;
  let i = s;
  for (; i < e; i++) {
    const c = bytes[i]! - 0x30;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  if (i === e && e > s) return v;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + s, e - s).toString('latin1');
  // Number('') is 0 and Number('0x10') is 16: accept only decimal notation.
  if (!DECIMAL.test(text)) return NaN;
  return Number(text);
}

function tokenText(bytes: Uint8Array, s: number, e: number): string {
  const t = Buffer.from(bytes.buffer, bytes.byteOffset + s, Math.min(e - s, 40)).toString('utf8');
  return e - s > 40 ? `${t}…` : t;
}

function checkValue(file: string, v: number, where: string, raw: string): number {
  if (Number.isNaN(v) || !Number.isFinite(v)) throw invalid(file, `${where}: "${raw}" is not a number; a trace holds requests per second as plain numbers`, { where, found: raw });
  if (v < 0) throw invalid(file, `${where}: negative value ${raw}; requests per second cannot be negative`, { where, found: raw });
  return v;
}

function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4096);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

/** The first line that is neither blank nor a `#` comment, as [start, end). */
function firstContentLine(bytes: Uint8Array): [number, number] | undefined {
  let s = 0;
  while (s < bytes.length) {
    let e = bytes.indexOf(NL, s);
    if (e < 0) e = bytes.length;
    let i = s;
    while (i < e && (bytes[i] === SP || bytes[i] === TAB || bytes[i] === CR)) i++;
    if (i < e && bytes[i] !== HASH) return [s, e];
    s = e + 1;
  }
  return undefined;
}

/** Parse trace text (or bytes). `file` names the source in errors. */
export function parseTrace(input: Uint8Array | string, file = '<trace>'): Trace {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (looksBinary(bytes)) throw invalid(file, 'unsupported format: binary data; expected numbers (one per line or space-separated), CSV `time,rps`, or a .tbz2 archive of such a file');
  const first = firstContentLine(bytes);
  if (!first) throw invalid(file, 'empty trace: no values found; expected requests per second, one number per line or space-separated, or CSV `time,rps`');
  const isCsv = bytes.subarray(first[0], first[1]).includes(COMMA);
  const trace = isCsv ? parseCsv(bytes, file) : parseWhitespace(bytes, file);
  if (trace.values.length === 0) throw invalid(file, 'empty trace: no values found');
  return trace;
}

function parseWhitespace(bytes: Uint8Array, file: string): Trace {
  const out = new Values();
  const len = bytes.length;
  let line = 1;
  let valueInLine = 0;
  let i = 0;
  while (i < len) {
    const c = bytes[i]!;
    if (c === NL) {
      line++;
      valueInLine = 0;
      i++;
      continue;
    }
    if (c === SP || c === TAB || c === CR) {
      i++;
      continue;
    }
    if (c === HASH && valueInLine === 0) {
      const e = bytes.indexOf(NL, i);
      i = e < 0 ? len : e;
      continue;
    }
    const s = i;
    while (i < len) {
      const d = bytes[i]!;
      if (d === SP || d === TAB || d === NL || d === CR) break;
      i++;
    }
    valueInLine++;
    const v = parseNumber(bytes, s, i);
    if (!(v >= 0) || !Number.isFinite(v)) {
      const raw = tokenText(bytes, s, i);
      if (bytes[s] === COMMA || raw.includes(',')) throw invalid(file, `line ${line}: unsupported format: commas here but the first line is not CSV \`time,rps\``, { line });
      checkValue(file, v, `line ${line}, value ${valueInLine} (offset ${s})`, raw);
    }
    out.push(v);
  }
  return { values: out.done(), stepSeconds: 1 };
}

/** A CSV time cell: seconds (number) or an ISO-8601 date. */
function parseTime(text: string): number {
  if (DECIMAL.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return ms / 1000;
  }
  return NaN;
}

function parseCsv(bytes: Uint8Array, file: string): Trace {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const lines = text.split('\n');
  const out = new Values();
  let prevTime: number | undefined;
  let step: number | undefined;
  let startAt: number | undefined;
  let sawContent = false;
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const raw = lines[n]!.replace(/\r$/, '').trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const cells = raw.split(',').map((c) => c.trim());
    if (cells.length !== 2) {
      throw invalid(file, `line ${lineNo}: unsupported format: expected 2 CSV columns \`time,rps\`, found ${cells.length}`, { line: lineNo });
    }
    const [tCell, vCell] = cells as [string, string];
    const t = parseTime(tCell);
    const v = DECIMAL.test(vCell) ? Number(vCell) : NaN;
    if (!sawContent) {
      sawContent = true;
      // An optional header row: both cells non-numeric, e.g. `time,rps`.
      if (Number.isNaN(t) && Number.isNaN(v)) continue;
    }
    if (Number.isNaN(t)) throw invalid(file, `line ${lineNo}, column 1: "${tCell}" is not a time (seconds or an ISO-8601 date)`, { line: lineNo, found: tCell });
    checkValue(file, v, `line ${lineNo}, column 2`, vCell);
    if (prevTime !== undefined) {
      const d = t - prevTime;
      if (!(d > 0)) throw invalid(file, `line ${lineNo}: time ${tCell} does not increase; rows must be in time order`, { line: lineNo });
      if (step === undefined) step = d;
      else if (Math.abs(d - step) > 1e-6 * step) {
        throw invalid(file, `line ${lineNo}: time ${tCell} is ${d} s after the previous row, but rows are ${step} s apart; a trace must be evenly spaced`, { line: lineNo });
      }
    }
    // Plain seconds may be relative; only a date says when the trace began.
    if (prevTime === undefined && !DECIMAL.test(tCell)) startAt = t * 1000;
    prevTime = t;
    out.push(v);
  }
  return { values: out.done(), stepSeconds: step ?? 1, ...(startAt !== undefined ? { startAt } : {}) };
}

function isArchive(file: string): boolean {
  return /\.(tbz2|tar\.bz2|tbz)$/i.test(file);
}

/** Extract an archive's members to memory with `tar -xjOf FILE` (no shell). */
function readArchive(file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', ['-xjOf', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    const errs: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => errs.push(c));
    child.on('error', (e) => reject(invalid(file, `cannot run tar to unpack the archive: ${e.message}`)));
    child.on('close', (code) => {
      if (code !== 0) {
        const msg = Buffer.concat(errs).toString('utf8').trim().split('\n')[0] ?? '';
        reject(invalid(file, `unsupported format: tar could not unpack it as a bzip2 tar archive (${msg || `exit ${code}`})`));
        return;
      }
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Read a trace file: plain text, CSV, or a `.tbz2`/`.tar.bz2` archive of one. */
export async function readTrace(file: string): Promise<Trace> {
  let bytes: Buffer;
  if (isArchive(file)) {
    bytes = await readArchive(file);
  } else {
    if (/\.(gz|zip|xz|zst|bz2|7z)$/i.test(file)) throw invalid(file, 'unsupported format: only .tbz2/.tar.bz2 archives or plain text traces are read');
    try {
      bytes = await readFile(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw invalid(file, code === 'ENOENT' ? 'file not found' : `cannot read: ${(e as Error).message}`);
    }
  }
  return parseTrace(bytes, file);
}

/** Combine every `stepSeconds / trace.stepSeconds` values into one (the last group may be shorter). */
export function aggregate(trace: Trace, stepSeconds: number, how: 'mean' | 'max' = 'mean'): Trace {
  const k = stepSeconds / trace.stepSeconds;
  if (!Number.isInteger(k) || k < 1) {
    throw new GridhostError('GH_TRACE_INVALID', `cannot aggregate a ${trace.stepSeconds} s trace to ${stepSeconds} s steps: the new step must be a whole multiple of the old`, { stepSeconds });
  }
  const start = trace.startAt !== undefined ? { startAt: trace.startAt } : {};
  if (k === 1) return { values: trace.values.slice(), stepSeconds, ...start };
  const src = trace.values;
  const out = new Float64Array(Math.ceil(src.length / k));
  for (let g = 0; g < out.length; g++) {
    const s = g * k;
    const e = Math.min(s + k, src.length);
    let acc = how === 'max' ? -Infinity : 0;
    for (let i = s; i < e; i++) {
      const v = src[i]!;
      if (how === 'max') {
        if (v > acc) acc = v;
      } else acc += v;
    }
    out[g] = how === 'max' ? acc : acc / (e - s);
  }
  return { values: out, stepSeconds, ...start };
}

export function peak(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! > m) m = values[i]!;
  return m;
}

/** Multiply the rate so the peak needs exactly `targetGuests` guests of `capacityPerGuest` rps. */
export function scaleToPeak(trace: Trace, capacityPerGuest: number, targetGuests = 8): Trace {
  const p = peak(trace.values);
  if (p <= 0) throw new GridhostError('GH_TRACE_INVALID', 'cannot scale a trace whose values are all zero');
  const top = capacityPerGuest * targetGuests;
  const f = top / p;
  const out = new Float64Array(trace.values.length);
  // min() keeps rounding from pushing the peak to targetGuests + 1.
  for (let i = 0; i < out.length; i++) out[i] = Math.min(trace.values[i]! * f, top);
  return { values: out, stepSeconds: trace.stepSeconds, ...(trace.startAt !== undefined ? { startAt: trace.startAt } : {}) };
}
