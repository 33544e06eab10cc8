// HAProxy's runtime API as typed calls: each method sends one command, reads the reply through
// runtime-replies.ts and resolves with typed data or rejects with a typed error.
//
// Error contract (every method): rejects only with GridhostError:
//  GH_HAPROXY_UNREACHABLE        the socket cannot be opened or did not answer in time
//  GH_HAPROXY_PERMISSION_DENIED  the socket file's mode, or the socket's level, forbids the command
//  GH_HAPROXY_UNKNOWN_BACKEND    HAProxy has no backend of that name
//  GH_HAPROXY_SERVER_EXISTS      add server: the name is taken in that backend
//  GH_HAPROXY_COMMAND_FAILED     any other refusal; details.fault says which (runtime-replies.ts)
//  GH_UNSAFE_ARGUMENT            a name or address that could not be sent safely (never sent)
import { GridhostError, type ErrorCode } from '../../../errors/errors.ts';
import { parseHostPort } from '../builtin/address.ts';
import {
  addServerReply, cliLevelReply, delServerReply, faultOf, infoReply, replyText, serversStateReply, silentReply, statReply,
  type CliLevel, type HaproxyInfo, type ReplyFault, type ServerStat, type ServerState,
} from './runtime-replies.ts';
import { sendCommand } from './runtime-socket.ts';
import { formatSocketAddress, HAPROXY_NAME_RE, type SocketAddress } from './runtime-address.ts';

export { HAPROXY_NAME_RE };

const HOST_RE = /^[A-Za-z0-9.:-]{1,253}$/;

export interface ServerCheck {
  /** HAProxy `inter`: time between two checks. */
  interMs: number;
  rise: number;
  fall: number;
}

export type AdminState = 'ready' | 'drain' | 'maint';

export interface RuntimeOptions {
  /** One command's limit (connect, write, read to the end). Default 5000. */
  timeoutMs?: number;
  /** Commands in flight at once (HAProxy's `stats maxconn` defaults to 10; leave room for operators). Default 3. */
  maxConcurrent?: number;
}

export class HaproxyRuntime {
  readonly where: string;
  private readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly address: SocketAddress, opts: RuntimeOptions = {}) {
    this.where = formatSocketAddress(address);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 3);
  }

  async cliLevel(): Promise<CliLevel> {
    const reply = await this.send('show cli level');
    const level = cliLevelReply(reply);
    if (level === undefined) {
      throw new GridhostError('GH_HAPROXY_COMMAND_FAILED',
        `${this.where} did not answer like HAProxy's runtime API (it said: ${replyText(reply) || '(nothing)'}): is it the \`stats socket\` of haproxy.cfg?`,
        { socket: this.where, command: 'show cli', fault: 'other' });
    }
    return level;
  }

  async info(): Promise<HaproxyInfo> {
    const reply = await this.send('show info');
    const info = infoReply(reply);
    if (info === undefined) throw this.fault('show info', reply, 'other');
    return info;
  }

  /** Every server of the backend (or of every backend), gridhost's and others, with its operational and admin state. */
  async serversState(backend?: string): Promise<ServerState[]> {
    const cmd = backend === undefined ? 'show servers state' : `show servers state ${name(backend)}`;
    const reply = await this.send(cmd);
    const rows = serversStateReply(reply);
    if (rows === undefined) throw this.fault(cmd, reply, undefined, { backend });
    return rows;
  }

  /** `show stat` rows of the backend's servers (and, with `aggregates`, the backend's own row named BACKEND). */
  async stat(backend: string, opts: { aggregates?: boolean; backendId?: number } = {}): Promise<ServerStat[]> {
    // Not `show stat NAME`: it resolves NAME to the first proxy of that name, and a frontend
    // named like its backend (templates/haproxy.cfg) comes first. The backend's numeric id
    // (from show servers state) asks for that proxy alone; without it, every proxy's rows are
    // read and filtered here. An id that now names another proxy (HAProxy was reloaded with
    // other backends) answers no row of this backend: then every proxy's rows are read.
    const read = async (iid: number): Promise<ServerStat[]> => {
      const cmd = `show stat ${iid} ${opts.aggregates ? 6 : 4} -1`;
      const reply = await this.send(cmd);
      const rows = statReply(reply, opts);
      if (rows === undefined) throw this.fault(cmd, reply, undefined, { backend });
      return rows.filter((r) => r.backend === backend);
    };
    if (opts.backendId !== undefined && Number.isInteger(opts.backendId) && opts.backendId > 0) {
      const rows = await read(opts.backendId);
      if (rows.length > 0) return rows;
    }
    return read(-1);
  }

  /** Adds the server in maintenance with health checks configured (not yet running). */
  async addServer(backend: string, server: string, address: string, check: ServerCheck): Promise<void> {
    const cmd = `add server ${name(backend)}/${name(server)} ${addr(address)} check inter ${ms(check.interMs)} rise ${count(check.rise)} fall ${count(check.fall)}`;
    const reply = await this.send(cmd);
    const r = addServerReply(reply);
    if (!r.ok) throw this.fault(cmd, reply, r.fault, { backend, server });
  }

  enableHealth(backend: string, server: string): Promise<void> {
    return this.silent(`enable health ${name(backend)}/${name(server)}`, backend, server);
  }

  setState(backend: string, server: string, state: AdminState): Promise<void> {
    return this.silent(`set server ${name(backend)}/${name(server)} state ${state}`, backend, server);
  }

  /** Cut every stream still attached to the server (after its drain timeout). */
  shutdownSessions(backend: string, server: string): Promise<void> {
    return this.silent(`shutdown sessions server ${name(backend)}/${name(server)}`, backend, server);
  }

  /** 'busy' while streams or connections are attached; 'absent' when there is no such server. */
  async delServer(backend: string, server: string): Promise<'deleted' | 'absent' | 'busy'> {
    const cmd = `del server ${name(backend)}/${name(server)}`;
    const reply = await this.send(cmd);
    const r = delServerReply(reply);
    if (r.ok) return 'deleted';
    if (r.fault === 'unknown-server') return 'absent';
    if (r.fault === 'has-connections') return 'busy';
    throw this.fault(cmd, reply, r.fault, { backend, server });
  }

  private async silent(cmd: string, backend: string, server: string): Promise<void> {
    const reply = await this.send(cmd);
    const r = silentReply(reply);
    if (!r.ok) throw this.fault(cmd, reply, r.fault, { backend, server });
  }

  /** One command, at most `maxConcurrent` at a time. */
  private async send(cmd: string): Promise<string> {
    if (this.running >= this.maxConcurrent) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await sendCommand(this.address, cmd, this.timeoutMs);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private fault(cmd: string, reply: string, fault: ReplyFault | undefined, details: Record<string, unknown> = {}): GridhostError {
    const verb = cmd.split(' ').slice(0, 2).join(' ');
    const said = replyText(reply) || '(nothing)';
    const f = fault ?? faultOf(reply);
    const all = { ...details, socket: this.where, command: verb, fault: f, reply: said };
    const codes: Partial<Record<ReplyFault, ErrorCode>> = {
      'permission-denied': 'GH_HAPROXY_PERMISSION_DENIED',
      'unknown-backend': 'GH_HAPROXY_UNKNOWN_BACKEND',
      'server-exists': 'GH_HAPROXY_SERVER_EXISTS',
    };
    const code = codes[f] ?? 'GH_HAPROXY_COMMAND_FAILED';
    const what =
      f === 'permission-denied' ? `HAProxy refused "${verb}" on ${this.where}: the socket is not at admin level (haproxy.cfg: \`stats socket ... level admin\`)`
        : f === 'unknown-backend' ? `HAProxy has no backend "${String(details.backend)}"`
          : f === 'server-exists' ? `backend "${String(details.backend)}" already has a server named "${String(details.server)}"`
            : `HAProxy refused "${verb}" on ${this.where}`;
    return new GridhostError(code, `${what} (HAProxy said: ${said})`, all);
  }
}

function unsafe(what: string, v: string): GridhostError {
  return new GridhostError('GH_UNSAFE_ARGUMENT', `${what} ${JSON.stringify(v)} cannot be sent to HAProxy's runtime API`, { value: v });
}

function name(v: string): string {
  if (!HAPROXY_NAME_RE.test(v)) throw unsafe('name', v);
  return v;
}

function addr(v: string): string {
  const hp = parseHostPort(v);
  if (hp === undefined || !HOST_RE.test(hp.host)) throw unsafe('address', v);
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

function ms(v: number): string {
  if (!Number.isInteger(v) || v < 1) throw unsafe('interval', String(v));
  return `${v}ms`;
}

function count(v: number): string {
  if (!Number.isInteger(v) || v < 1 || v > 1000) throw unsafe('count', String(v));
  return String(v);
}
