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

/**
 * Keys an event line's message already says (attached by logScaleEvent/logGuestStep as a symbol,
 * which JSON output never sees): the pretty format does not repeat them after the message.
 */
const IN_MESSAGE = Symbol.for('gridhost.inMessage');

/** `2026-01-02T03:04:05.678Z info  gridhost ready api=http://127.0.0.1:8700 pools=["web"]` */
const prettyLine = winston.format((info) => {
  const said = ((info as Record<symbol, unknown>)[IN_MESSAGE] as readonly string[] | undefined) ?? [];
  const fields = Object.entries(fieldsOf(info))
    .filter(([k]) => !said.includes(k))
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

/**
 * A guest line: a transition (`from` and `to`: the state left and the one entered, once per
 * change; `duration_ms` the time spent in `from`, `steps_ms` what its steps took, written as
 * `<step>_ms` fields) or a step inside one state (`state`: boot, health, stop, ...).
 */
export interface GuestStepLogFields {
  pool: string;
  guest: string;
  /** transitions: launch | clone | register | retire | drain | finish | cleanup | retired | cleaned-up | adopt;
   *  steps: boot | health | deregister | stop | delete-clone (and any step that failed) */
  action: string;
  from?: GuestState | 'none' | string;
  to?: GuestState | string;
  state?: GuestState | string;
  reason?: string;
  duration_ms: number;
  steps_ms?: Record<string, number>;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

const SCALE_KEYS = ['event', 'pool', 'action', 'from', 'to', 'reason', 'duration_ms'];
const GUEST_KEYS = [...SCALE_KEYS, 'guest', 'state'];

/** Extra fields never overwrite the canonical ones. */
function without(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}

/** `event: "scale"` line: pool, action, from, to, reason[, duration_ms]. */
export function logScaleEvent(logger: Logger, f: ScaleLogFields, level: Level = 'info', extra: Record<string, unknown> = {}): void {
  // Decision reasons already start with "scale-out 3 -> 4: ..."; don't say it twice.
  const head = `${f.action} ${f.from} -> ${f.to}`;
  // A recommendation (mode: recommend) was not carried out: the line says so first.
  const lead = extra.outcome === 'recommended' ? 'recommended, not carried out: ' : '';
  logger.log(level, `${f.pool}: ${lead}${f.reason.startsWith(head) ? f.reason : `${head}: ${f.reason}`}`, {
    event: 'scale',
    pool: f.pool,
    action: f.action,
    from: f.from,
    to: f.to,
    reason: f.reason,
    ...(f.duration_ms !== undefined ? { duration_ms: f.duration_ms } : {}),
    ...without(extra, SCALE_KEYS),
    [IN_MESSAGE]: ['event', 'pool', 'action', 'from', 'to', 'reason'],
  });
}

/** `<step>_ms` field names: `delete-clone` -> `delete_clone_ms`. */
function stepFields(steps: Record<string, number> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(steps ?? {}).map(([k, v]) => [`${k.replace(/-/g, '_')}_ms`, v]));
}

/**
 * `event: "guest"` line. Transition: pool, guest, action, from, to[, reason], duration_ms and a
 * `<step>_ms` per step; message `web-a1: register booting -> healthy` (`web-a1: adopt (healthy)`
 * for an event without a change). Step: pool, guest, action, state, duration_ms; message
 * `web-a1: boot done (booting)` or `... failed (booting)` when `extra` carries an error.
 */
export function logGuestStep(logger: Logger, f: GuestStepLogFields, level: Level = 'info', extra: Record<string, unknown> = {}): void {
  const why = f.reason ? `: ${f.reason}` : '';
  if (f.from === undefined || f.to === undefined) {
    logger.log(level, `${f.guest}: ${f.action} ${extra.error === undefined ? 'done' : 'failed'} (${f.state ?? 'unknown'})${why}`, {
      event: 'guest',
      pool: f.pool,
      guest: f.guest,
      action: f.action,
      state: f.state,
      ...(f.reason !== undefined ? { reason: f.reason } : {}),
      duration_ms: f.duration_ms,
      ...without(extra, GUEST_KEYS),
      [IN_MESSAGE]: ['event', 'guest', 'action', 'state', 'reason'],
    });
    return;
  }
  const change = f.from === f.to ? `(${f.to})` : `${f.from} -> ${f.to}`;
  logger.log(level, `${f.guest}: ${f.action} ${change}${why}`, {
    event: 'guest',
    pool: f.pool,
    guest: f.guest,
    action: f.action,
    from: f.from,
    to: f.to,
    ...(f.reason !== undefined ? { reason: f.reason } : {}),
    duration_ms: f.duration_ms,
    ...without(stepFields(f.steps_ms), GUEST_KEYS),
    ...without(extra, GUEST_KEYS),
    [IN_MESSAGE]: ['event', 'guest', 'action', 'from', 'to', 'reason'],
  });
}
