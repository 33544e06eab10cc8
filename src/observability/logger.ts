// Structured logging with winston. One line per event: JSON lines for machines (files, journald,
// log shippers) and colorized one-liners for a person at a terminal. Secrets are removed by a
// format that runs before any output format, so no transport can see them.
import type { Writable } from 'node:stream';
import winston from 'winston';
import type { GuestState } from '../domain/types.ts';
import { REDACTED, isSecretField, redact, redactString } from './redact.ts';

export type Logger = winston.Logger;
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go; default process.stdout. `auto` looks at this stream's isTTY. */
  stream?: Writable;
}

const MESSAGE = Symbol.for('message');
const RESERVED = new Set(['level', 'message', 'timestamp']);

/** Removes fields named like secrets (deep) and masks URI passwords and bearer tokens in strings. */
export const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level') continue;
    if (key === 'message') info.message = typeof info.message === 'string' ? redactString(info.message) : redact(info.message);
    else info[key] = isSecretField(key) ? REDACTED : redact(info[key]);
  }
  return info;
});

/** The fields a caller attached, in the order given, without winston's own keys. */
function fieldsOf(info: winston.Logform.TransformableInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(info)) if (!RESERVED.has(k) && v !== undefined) out[k] = v;
  return out;
}

/** `{"timestamp":"…","level":"info","msg":"…",…fields}` */
const jsonLine = winston.format((info) => {
  const line = { timestamp: info.timestamp, level: info.level, msg: info.message, ...fieldsOf(info) };
  (info as Record<string | symbol, unknown>)[MESSAGE] = JSON.stringify(line);
  return info;
});

/** `2026-01-02T03:04:05.678Z info  gridhost ready api=http://127.0.0.1:8700 pools=["web"]` */
const prettyLine = winston.format((info) => {
  const fields = Object.entries(fieldsOf(info))
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  (info as Record<string | symbol, unknown>)[MESSAGE] = `${String(info.timestamp)} ${info.level} ${String(info.message)}${fields ? ` ${fields}` : ''}`;
  return info;
});

export function createLogger(opts: LoggerOptions): Logger {
  const stream = opts.stream ?? process.stdout;
  const tty = (stream as Writable & { isTTY?: boolean }).isTTY === true;
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && tty);
  const f = winston.format;
  return winston.createLogger({
    level: opts.level,
    format: f.combine(
      redactFormat(),
      f.timestamp(), // ISO 8601 UTC
      ...(pretty ? [f.colorize({ level: true }), prettyLine()] : [jsonLine()]),
    ),
    transports: [new winston.transports.Stream({ stream })],
    exitOnError: false,
  });
}

// ---- the two structured line kinds every scale and guest change produces

export interface ScaleLogFields {
  pool: string;
  /** scale-out | scale-in | hold, or what the actuator did (e.g. "skipped"). */
  action: string;
  from: number;
  to: number;
  reason: string;
  duration_ms?: number;
}

export interface GuestStepLogFields {
  pool: string;
  guest: string;
  /** clone | boot | health | register | drain | deregister | stop | delete-clone | adopt | cleanup */
  action: string;
  from: GuestState | 'none' | string;
  to: GuestState | string;
  reason?: string;
  duration_ms: number;
}

type Level = 'info' | 'warn' | 'error';

const SCALE_KEYS = ['event', 'pool', 'action', 'from', 'to', 'reason', 'duration_ms'];
const GUEST_KEYS = [...SCALE_KEYS, 'guest'];

/** Extra fields never overwrite the canonical ones. */
function without(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}

/** `event: "scale"` line: pool, action, from, to, reason[, duration_ms]. */
export function logScaleEvent(logger: Logger, f: ScaleLogFields, level: Level = 'info', extra: Record<string, unknown> = {}): void {
  // Decision reasons already start with "scale-out 3 -> 4: ..."; don't say it twice.
  const head = `${f.action} ${f.from} -> ${f.to}`;
  logger.log(level, `${f.pool}: ${f.reason.startsWith(head) ? f.reason : `${head}: ${f.reason}`}`, {
    event: 'scale',
    pool: f.pool,
    action: f.action,
    from: f.from,
    to: f.to,
    reason: f.reason,
    ...(f.duration_ms !== undefined ? { duration_ms: f.duration_ms } : {}),
    ...without(extra, SCALE_KEYS),
  });
}

/** `event: "guest"` line: pool, guest, action, from, to[, reason], duration_ms. */
export function logGuestStep(logger: Logger, f: GuestStepLogFields, level: Level = 'info', extra: Record<string, unknown> = {}): void {
  logger.log(level, `${f.guest}: ${f.action} ${f.from} -> ${f.to}${f.reason ? `: ${f.reason}` : ''}`, {
    event: 'guest',
    pool: f.pool,
    guest: f.guest,
    action: f.action,
    from: f.from,
    to: f.to,
    ...(f.reason !== undefined ? { reason: f.reason } : {}),
    duration_ms: f.duration_ms,
    ...without(extra, GUEST_KEYS),
  });
}
