// What HAProxy 2.6's runtime API answers, as typed data. Pure: text in, typed values out.
// This is the only place that reads reply text; everything else branches on the kinds and
// fields below (the texts were recorded from HAProxy 2.6.12, see runtime-replies.test.ts).

/** Why a command did not do what it was asked, as far as the reply says. */
export type ReplyFault =
  | 'permission-denied' // the socket's level does not allow the command
  | 'unknown-backend'
  | 'unknown-server'
  | 'server-exists'
  | 'not-in-maintenance' // del server of a server that still takes traffic
  | 'has-connections' // del server while streams are attached
  | 'unknown-command'
  | 'other';

const FAULTS: ReadonlyArray<[RegExp, ReplyFault]> = [
  [/^Permission denied/, 'permission-denied'],
  [/^(No such backend\.|Can't find backend\.|No such proxy\.)/, 'unknown-backend'],
  [/^No such server\./, 'unknown-server'],
  [/^Already exists a server with the same name in backend\./, 'server-exists'],
  [/^Only servers in maintenance mode can be deleted\./, 'not-in-maintenance'],
  [/^Server still has connections attached to it, cannot remove it\./, 'has-connections'],
  [/^Unknown command/, 'unknown-command'],
];

/** The reply's first line without trailing blank lines, for messages (never for branching). */
export function replyText(reply: string): string {
  return reply.replace(/\s+$/, '').split('\n').slice(0, 3).map((l) => l.replace(/[\x00-\x1f\x7f]/g, ' ').trim()).join(' / ').slice(0, 300);
}

export function faultOf(reply: string): ReplyFault {
  const t = reply.trimStart();
  for (const [re, kind] of FAULTS) if (re.test(t)) return kind;
  return 'other';
}

/**
 * Commands that answer nothing on success (enable/disable, set server, shutdown sessions):
 * an empty reply is success, anything else is a fault.
 */
export function silentReply(reply: string): { ok: true } | { ok: false; fault: ReplyFault } {
  return reply.trim() === '' ? { ok: true } : { ok: false, fault: faultOf(reply) };
}

/** `add server` answers "New server registered." on success. */
export function addServerReply(reply: string): { ok: true } | { ok: false; fault: ReplyFault } {
  return /^New server registered\./.test(reply.trimStart()) ? { ok: true } : { ok: false, fault: faultOf(reply) };
}

/** `del server` answers "Server deleted." on success. */
export function delServerReply(reply: string): { ok: true } | { ok: false; fault: ReplyFault } {
  return /^Server deleted\./.test(reply.trimStart()) ? { ok: true } : { ok: false, fault: faultOf(reply) };
}

export type CliLevel = 'admin' | 'operator' | 'user';

/** `show cli level` answers the session's level on one line. */
export function cliLevelReply(reply: string): CliLevel | undefined {
  const t = reply.trim();
  return t === 'admin' || t === 'operator' || t === 'user' ? t : undefined;
}

export interface HaproxyInfo {
  pid: number;
  uptimeSec: number;
  version: string;
}

/** `show info`: "Name: value" lines. */
export function infoReply(reply: string): HaproxyInfo | undefined {
  const kv = new Map<string, string>();
  for (const line of reply.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const pid = Number(kv.get('Pid'));
  const uptimeSec = Number(kv.get('Uptime_sec'));
  if (!Number.isInteger(pid) || !Number.isFinite(uptimeSec)) return undefined;
  return { pid, uptimeSec, version: kv.get('Version') ?? '' };
}

/** srv_op_state in `show servers state` (enum srv_state). */
export type OpState = 'stopped' | 'starting' | 'running' | 'stopping';
const OP_STATES: readonly OpState[] = ['stopped', 'starting', 'running', 'stopping'];

/** srv_admin_state bits (enum srv_admin). */
const ADMF_MAINT = 0x01 | 0x02 | 0x04 | 0x40 | 0x80; // forced, inherited, config, resolution, hostname
const ADMF_DRAIN = 0x08 | 0x10 | 0x20; // forced, inherited, config

export interface ServerState {
  backend: string;
  /** HAProxy's numeric id of the backend (be_id): `show stat` can ask for that proxy alone. */
  backendId: number;
  /** HAProxy's id of the server in its backend (srv_id): a server deleted and added again gets a new one. */
  id: number;
  name: string;
  /** The address as HAProxy holds it, without the port. */
  addr: string;
  port: number;
  op: OpState;
  maint: boolean;
  drain: boolean;
}

/**
 * `show servers state BACKEND`: a format version line ("1"), a "# name name ..." header, one
 * space-separated row per server. Columns are found by name, so added columns do not matter.
 * Undefined when the text is not that table (a fault reply).
 */
export function serversStateReply(reply: string): ServerState[] | undefined {
  const lines = reply.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const h = lines.findIndex((l) => l.startsWith('# be_id'));
  if (h < 0) return undefined;
  const cols = lines[h]!.slice(1).trim().split(/\s+/);
  const at = (name: string): number => cols.indexOf(name);
  const [iBeId, iBe, iId, iName, iAddr, iOp, iAdmin, iPort] = ['be_id', 'be_name', 'srv_id', 'srv_name', 'srv_addr', 'srv_op_state', 'srv_admin_state', 'srv_port'].map(at);
  if ([iBeId, iBe, iId, iName, iAddr, iOp, iAdmin, iPort].some((i) => i === undefined || i < 0)) return undefined;
  const out: ServerState[] = [];
  for (const line of lines.slice(h + 1)) {
    if (line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    const admin = Number(f[iAdmin!]);
    out.push({
      backend: f[iBe!] ?? '',
      backendId: Number(f[iBeId!]),
      id: Number(f[iId!]),
      name: f[iName!] ?? '',
      addr: f[iAddr!] ?? '',
      port: Number(f[iPort!]),
      op: OP_STATES[Number(f[iOp!])] ?? 'stopped',
      maint: (admin & ADMF_MAINT) !== 0,
      drain: (admin & ADMF_DRAIN) !== 0,
    });
  }
  return out;
}

/** One server row of `show stat` (CSV), the fields gridhost reads. Counters are since HAProxy started. */
export interface ServerStat {
  backend: string;
  /** The server's name, or "BACKEND" for the backend's own row (statReply with aggregates). */
  name: string;
  /** "UP", "DOWN", "DRAIN", "MAINT", "UP 1/2" (going down), "no check", ... */
  status: string;
  /** Current sessions (requests being served, in HTTP mode). */
  scur: number;
  /** Cumulative sessions (requests) sent to the server. */
  stot: number;
  /** Requests queued for the server. */
  qcur: number;
  /** Responses by class. */
  hrsp1xx: number;
  hrsp2xx: number;
  hrsp3xx: number;
  hrsp4xx: number;
  hrsp5xx: number;
  /** Responses with a status outside 1xx-5xx. */
  hrspOther: number;
  /** Failed connections to the server, and responses aborted by it. */
  econ: number;
  eresp: number;
  /** Clients that gave up, and responses the server broke off. */
  cliAbrt: number;
  srvAbrt: number;
  /** Retries and redispatches away from it. */
  wretr: number;
  wredis: number;
  /** Average response time (ms) over the last 1024 requests. */
  rtimeMs: number;
  /** Last health check: "L7OK", "L4CON", "L7STS", "" (none yet); a leading "* " means one is running. */
  checkStatus: string;
  /** HTTP status of the last check, when it got one. */
  checkCode: number | undefined;
  /** What the last check saw, in HAProxy's words ("Layer7 check passed", "Connection refused"). */
  checkDesc: string;
  /** Times the server went from UP to DOWN. */
  chkdown: number;
  /** Seconds since its last UP/DOWN change (-1 or absent: never). */
  lastchgSec: number | undefined;
  /** "host:port" */
  addr: string;
}

function csvNumber(v: string | undefined): number {
  const n = Number(v);
  return v === undefined || v === '' || !Number.isFinite(n) ? 0 : n;
}

/**
 * `show stat [BACKEND 4 -1]`: "# pxname,svname,..." then one CSV row per proxy or server.
 * Returns the server rows (FRONTEND/BACKEND aggregates left out). Undefined when not CSV.
 */
export function statReply(reply: string, opts: { aggregates?: boolean } = {}): ServerStat[] | undefined {
  const lines = reply.split('\n').filter((l) => l.trim() !== '');
  const h = lines.findIndex((l) => l.startsWith('# pxname,'));
  if (h < 0) return undefined;
  const cols = lines[h]!.slice(2).split(',');
  const idx = new Map(cols.map((c, i) => [c, i]));
  const out: ServerStat[] = [];
  for (const line of lines.slice(h + 1)) {
    const f = line.split(',');
    const get = (name: string): string | undefined => {
      const i = idx.get(name);
      return i === undefined ? undefined : f[i];
    };
    const sv = get('svname') ?? '';
    if (sv === 'FRONTEND' || (sv === 'BACKEND' && !opts.aggregates)) continue;
    const code = get('check_code');
    const lastchg = get('lastchg');
    out.push({
      backend: get('pxname') ?? '',
      name: sv,
      status: get('status') ?? '',
      scur: csvNumber(get('scur')),
      stot: csvNumber(get('stot')),
      qcur: csvNumber(get('qcur')),
      hrsp1xx: csvNumber(get('hrsp_1xx')),
      hrsp2xx: csvNumber(get('hrsp_2xx')),
      hrsp3xx: csvNumber(get('hrsp_3xx')),
      hrsp4xx: csvNumber(get('hrsp_4xx')),
      hrsp5xx: csvNumber(get('hrsp_5xx')),
      hrspOther: csvNumber(get('hrsp_other')),
      econ: csvNumber(get('econ')),
      eresp: csvNumber(get('eresp')),
      cliAbrt: csvNumber(get('cli_abrt')),
      srvAbrt: csvNumber(get('srv_abrt')),
      wretr: csvNumber(get('wretr')),
      wredis: csvNumber(get('wredis')),
      rtimeMs: csvNumber(get('rtime')),
      checkStatus: (get('check_status') ?? '').replace(/^\* /, ''),
      checkCode: code === undefined || code === '' ? undefined : Number(code),
      checkDesc: get('check_desc') ?? '',
      chkdown: csvNumber(get('chkdown')),
      lastchgSec: lastchg === undefined || lastchg === '' || Number(lastchg) < 0 ? undefined : Number(lastchg),
      addr: get('addr') ?? '',
    });
  }
  return out;
}
