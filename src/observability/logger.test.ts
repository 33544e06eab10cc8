import test from 'ava';
import { PassThrough } from 'node:stream';
import { GridhostError } from '../errors/errors.ts';
import { createLogger, logGuestStep, logScaleEvent, type LogFormat, type LoggerOptions } from './logger.ts';

/** A logger writing into memory; `lines()` waits for winston to flush. */
function capture(format: LogFormat, opts: Partial<LoggerOptions> & { tty?: boolean } = {}) {
  const stream = new PassThrough();
  if (opts.tty) (stream as PassThrough & { isTTY?: boolean }).isTTY = true;
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const logger = createLogger({ level: opts.level ?? 'debug', format, stream });
  const lines = async (): Promise<string[]> => {
    await new Promise((r) => setImmediate(r));
    return text.split('\n').filter((l) => l.length > 0);
  };
  const json = async (): Promise<Record<string, unknown>[]> => (await lines()).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, json };
}

test('json format writes one JSON object per line: timestamp (ISO), level, msg, then fields', async (t) => {
  const c = capture('json');
  c.logger.info('gridhost ready', { api: 'http://127.0.0.1:8700', pools: ['web'] });
  const [line] = await c.lines();
  const o = JSON.parse(line!) as Record<string, unknown>;
  t.deepEqual(Object.keys(o), ['timestamp', 'level', 'msg', 'api', 'pools']);
  t.is(o.level, 'info');
  t.is(o.msg, 'gridhost ready');
  t.deepEqual(o.pools, ['web']);
  t.is(new Date(o.timestamp as string).toISOString(), o.timestamp as string);
});

test('auto is JSON when the stream is not a TTY and a colorized one-liner when it is', async (t) => {
  const plain = capture('auto');
  plain.logger.warn('hello', { pool: 'web' });
  t.is(JSON.parse((await plain.lines())[0]!).msg, 'hello');

  const tty = capture('auto', { tty: true });
  tty.logger.warn('hello', { pool: 'web', note: 'two words' });
  const [line] = await tty.lines();
  t.throws(() => JSON.parse(line!));
  t.true(line!.includes('\u001b['), 'level is colorized');
  t.regex(line!, /^\d{4}-\d\d-\d\dT\S+Z \S*warn\S* hello pool=web note="two words"$/);
});

test('pretty format is a one-liner even when the stream is not a TTY', async (t) => {
  const c = capture('pretty');
  c.logger.error('boom', { code: 'GH_BOOT_FAILED' });
  const lines = await c.lines();
  t.is(lines.length, 1);
  t.regex(lines[0]!, / boom code=GH_BOOT_FAILED$/);
});

test('the level filters lower-priority lines', async (t) => {
  const c = capture('json', { level: 'warn' });
  c.logger.info('quiet');
  c.logger.debug('quieter');
  c.logger.warn('loud');
  t.deepEqual(
    (await c.json()).map((o) => o.msg),
    ['loud'],
  );
});

const secretCases: { title: string; fields: Record<string, unknown>; leaked: string[]; kept?: string[] }[] = [
  { title: 'top-level token and password', fields: { token: 'tok-123', password: 'pw-123', user: 'gh' }, leaked: ['tok-123', 'pw-123'], kept: ['gh'] },
  {
    title: 'nested secret, authorization, privateKey, passphrase',
    fields: { config: { api: { token: 'tok-9' }, dom0s: [{ privateKey: 'KEYDATA', passphrase: 'pp-1', name: 'dom0-a' }] }, headers: { Authorization: 'Bearer abc.def' }, client_secret: 's-1', apiToken: 't-2' },
    leaked: ['tok-9', 'KEYDATA', 'pp-1', 'abc.def', 's-1', 't-2'],
    kept: ['dom0-a'],
  },
  {
    title: 'mongodb URI passwords inside strings',
    fields: { uri: 'mongodb://gh:hunter2@db1:27017,db2/gridhost', note: 'connect mongodb+srv://ops:pa55@cluster0.example.net failed' },
    leaked: ['hunter2', 'pa55'],
    kept: ['mongodb://gh:***@db1:27017,db2/gridhost', 'mongodb+srv://ops:***@cluster0.example.net'],
  },
];

for (const c of secretCases) {
  test(`redaction removes secrets: ${c.title}`, async (t) => {
    const cap = capture('json');
    cap.logger.info('config loaded', c.fields);
    const [line] = await cap.lines();
    for (const s of c.leaked) t.false(line!.includes(s), `${s} leaked: ${line}`);
    for (const s of c.kept ?? []) t.true(line!.includes(s), `${s} missing: ${line}`);
    t.true(line!.includes('[REDACTED]') || line!.includes('***'));
  });
}

test('redaction masks secrets in the message text and in pretty output too', async (t) => {
  const cap = capture('pretty');
  cap.logger.error('cannot reach mongodb://gh:hunter2@db/gridhost', { password: 'pw' });
  const [line] = await cap.lines();
  t.false(line!.includes('hunter2'));
  t.false(/password=pw\b/.test(line!));
  t.true(line!.includes('mongodb://gh:***@db/gridhost'));
  t.true(line!.includes('password=[REDACTED]'));
});

test('redaction does not mutate the caller\'s objects', async (t) => {
  const cap = capture('json');
  const cfg = { api: { token: 'keep-me' } };
  cap.logger.info('x', { config: cfg });
  await cap.lines();
  t.is(cfg.api.token, 'keep-me');
});

test('an error field is logged with its code and message, and a cycle does not throw', async (t) => {
  const cap = capture('json');
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  cap.logger.error('step failed', { err: new GridhostError('GH_BOOT_FAILED', 'exit 1'), cyclic });
  const [o] = await cap.json();
  t.like(o!.err as object, { code: 'GH_BOOT_FAILED', message: 'exit 1', name: 'GridhostError' });
  t.deepEqual(o!.cyclic, { name: 'loop', self: '[Circular]' });
});

test('logScaleEvent writes an event:"scale" line with exactly pool, action, from, to, reason, duration_ms', async (t) => {
  const cap = capture('json');
  logScaleEvent(cap.logger, { pool: 'web', action: 'scale-out', from: 2, to: 3, reason: 'cpu mean 83.1% > 70% for 3 samples', duration_ms: 1234 });
  logScaleEvent(cap.logger, { pool: 'web', action: 'hold', from: 3, to: 3, reason: 'cooldown' }, 'info', { pool: 'overridden?', outcome: 'skipped' });
  const [a, b] = await cap.json();
  const { timestamp: _t, msg: _m, ...fa } = a!;
  t.deepEqual(fa, { level: 'info', event: 'scale', pool: 'web', action: 'scale-out', from: 2, to: 3, reason: 'cpu mean 83.1% > 70% for 3 samples', duration_ms: 1234 });
  t.is(b!.pool, 'web', 'extra fields never overwrite the canonical ones');
  t.is(b!.outcome, 'skipped');
  t.false('duration_ms' in b!);
});

test('logGuestStep writes an event:"guest" line with exactly pool, guest, action, from, to, reason, duration_ms', async (t) => {
  const cap = capture('json');
  logGuestStep(cap.logger, { pool: 'web', guest: 'web-a1', action: 'boot', from: 'cloning', to: 'booting', duration_ms: 850 });
  logGuestStep(cap.logger, { pool: 'web', guest: 'web-a1', action: 'health', from: 'booting', to: 'failed', reason: 'timeout after 60s', duration_ms: 60000 }, 'warn');
  const [a, b] = await cap.json();
  const { timestamp: _t, msg: _m, ...fa } = a!;
  t.deepEqual(fa, { level: 'info', event: 'guest', pool: 'web', guest: 'web-a1', action: 'boot', from: 'cloning', to: 'booting', duration_ms: 850 });
  t.like(b!, { level: 'warn', event: 'guest', to: 'failed', reason: 'timeout after 60s', duration_ms: 60000 });
});

test('the pretty format says a scale line\'s reason once, not again as a field', async (t) => {
  const c = capture('pretty');
  const reason = 'scale-out 2 -> 3: rps mean 61.0 > 45 for 1 sample';
  logScaleEvent(c.logger, { pool: 'web', action: 'scale-out', from: 2, to: 3, reason, duration_ms: 40 }, 'info', { outcome: 'done', detail: 'launched 1' });
  const [line] = await c.lines();
  t.is(line!.split(reason).length - 1, 1, line);
  t.regex(line!, / web: scale-out 2 -> 3: rps mean 61\.0 > 45 for 1 sample duration_ms=40 outcome=done detail="launched 1"$/);
  // JSON keeps every field.
  const j = capture('json');
  logScaleEvent(j.logger, { pool: 'web', action: 'scale-out', from: 2, to: 3, reason });
  t.like((await j.json())[0], { event: 'scale', pool: 'web', action: 'scale-out', from: 2, to: 3, reason });
});

test('the pretty format says a guest line\'s transition and reason once; pool and durations follow as fields', async (t) => {
  const c = capture('pretty');
  logGuestStep(c.logger, { pool: 'web', guest: 'web-a1', action: 'retire', from: 'healthy', to: 'draining', reason: 'scale-in 3 -> 2: rps mean 10.0', duration_ms: 1000 });
  logGuestStep(c.logger, { pool: 'web', guest: 'web-a1', action: 'register', from: 'booting', to: 'healthy', duration_ms: 900, steps_ms: { boot: 100, health: 700, register: 100 } });
  logGuestStep(c.logger, { pool: 'web', guest: 'web-a1', action: 'adopt', from: 'healthy', to: 'healthy', reason: 'running at start-up', duration_ms: 0 });
  logGuestStep(c.logger, { pool: 'web', guest: 'web-a1', action: 'stop', state: 'stopping', duration_ms: 120 }, 'debug');
  logGuestStep(c.logger, { pool: 'web', guest: 'web-a1', action: 'boot', state: 'booting', duration_ms: 5 }, 'warn', { error: { code: 'GH_BOOT_FAILED', message: 'exit 1' } });
  const lines = await c.lines();
  t.regex(lines[0]!, / web-a1: retire healthy -> draining: scale-in 3 -> 2: rps mean 10\.0 pool=web duration_ms=1000$/);
  t.regex(lines[1]!, / web-a1: register booting -> healthy pool=web duration_ms=900 boot_ms=100 health_ms=700 register_ms=100$/);
  t.regex(lines[2]!, / web-a1: adopt \(healthy\): running at start-up pool=web duration_ms=0$/, 'no "healthy -> healthy"');
  t.regex(lines[3]!, / web-a1: stop done \(stopping\) pool=web duration_ms=120$/);
  t.regex(lines[4]!, / web-a1: boot failed \(booting\) pool=web duration_ms=5 error=\{"code":"GH_BOOT_FAILED","message":"exit 1"\}$/);
  for (const l of lines) t.false(/ (\S+) -> \1\b/.test(l), `a line shows a state moving to itself: ${l}`);
});

test('a guest step inside a state is logged with its state and no from/to', async (t) => {
  const c = capture('json');
  logGuestStep(c.logger, { pool: 'web', guest: 'web-a1', action: 'delete-clone', state: 'stopping', duration_ms: 3 }, 'debug');
  logGuestStep(c.logger, { pool: 'web', guest: 'web-a1', action: 'retired', from: 'stopping', to: 'gone', duration_ms: 30, steps_ms: { deregister: 1, stop: 26, 'delete-clone': 3 } });
  const [a, b] = await c.json();
  const { timestamp: _t, msg: _m, ...fa } = a!;
  t.deepEqual(fa, { level: 'debug', event: 'guest', pool: 'web', guest: 'web-a1', action: 'delete-clone', state: 'stopping', duration_ms: 3 });
  const { timestamp: _t2, msg: _m2, ...fb } = b!;
  t.deepEqual(fb, { level: 'info', event: 'guest', pool: 'web', guest: 'web-a1', action: 'retired', from: 'stopping', to: 'gone', duration_ms: 30, deregister_ms: 1, stop_ms: 26, delete_clone_ms: 3 });
});
