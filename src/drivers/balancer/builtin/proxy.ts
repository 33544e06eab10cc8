// The builtin balancer's hot path: one proxied exchange per client request. Streams bodies both
// ways, picks the least loaded ready+healthy backend, retries a bodyless GET/HEAD once on another
// backend when the connection failed before any response byte. No logging here on purpose.
import http from 'node:http';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { BackendAdmin } from '../balancer.ts';
import type { GuestConnect } from '../../guest-net/guest-net.ts';
import type { HealthState } from './health-check.ts';
import { pickBackend } from './pick-backend.ts';

export interface ProxyBackend extends HealthState {
  id: string;
  address: string;
  host: string;
  port: number;
  admin: BackendAdmin;
  active: number;
  served: number;
  failed: number;
  /** One keep-alive agent per backend, so a removed backend's idle sockets can be closed. */
  agent: http.Agent;
  /** Set when the backend is reached through its host (guest-net); the agent already uses it. */
  connect?: GuestConnect;
  removed: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface ProxyPool {
  name: string;
  backends: ProxyBackend[];
  /** Round-robin cursor for ties. */
  cursor: number;
  /** Set while the front end shuts down: responses then close their connection. */
  closing: boolean;
  noBackendBody: Buffer;
  badGatewayBody: Buffer;
  gatewayTimeoutBody: Buffer;
  /** A backend that has not begun its answer by then: 504, and the backend request is cut. */
  responseTimeoutMs: number;
}

/** Connection failures that prove the backend never processed the request. */
const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

export function wireError(code: string, message: string, pool: string): Buffer {
  return Buffer.from(JSON.stringify({ code, message, pool }));
}

function choose(pool: ProxyPool, skip: ProxyBackend | undefined): ProxyBackend | undefined {
  const i = pickBackend(pool.backends, pool.cursor, skip);
  if (i < 0) return undefined;
  pool.cursor = i + 1;
  return pool.backends[i];
}

function reply(res: ServerResponse, status: number, body: Buffer, closing: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': body.length,
    ...(closing ? { connection: 'close' } : {}),
  });
  res.end(body);
}

/** Release a backend's sockets once it is removed and idle. */
export function releaseIfIdle(b: ProxyBackend): void {
  if (b.removed && b.active === 0) b.agent.destroy();
}

export function handleRequest(pool: ProxyPool, req: IncomingMessage, res: ServerResponse): void {
  const h = req.headers;
  const ip = req.socket.remoteAddress;
  if (ip !== undefined) {
    const prior = h['x-forwarded-for'];
    h['x-forwarded-for'] = prior ? `${prior}, ${ip}` : ip;
  }
  // Hop-by-hop: the client's connection handling is not the backend's.
  delete h.connection;
  delete h['keep-alive'];
  delete h['proxy-connection'];
  const cl = h['content-length'];
  const hasBody = h['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
  const b = choose(pool, undefined);
  if (b === undefined) {
    req.resume();
    reply(res, 503, pool.noBackendBody, pool.closing);
    return;
  }
  const canRetry = !hasBody && (req.method === 'GET' || req.method === 'HEAD');
  new Exchange(pool, req, res, hasBody, canRetry).start(b);
}

class Exchange {
  private backend: ProxyBackend | undefined;
  private preq: ClientRequest | undefined;
  private settled = true;
  private responded = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: ProxyPool,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly hasBody: boolean,
    private canRetry: boolean,
  ) {
    res.on('close', this.onClientClose);
  }

  start(b: ProxyBackend): void {
    this.backend = b;
    this.settled = false;
    b.active++;
    const preq = http.request({
      host: b.host,
      port: b.port,
      method: this.req.method,
      path: this.req.url,
      headers: this.req.headers,
      agent: b.agent,
    });
    this.preq = preq;
    // Not retried: the backend may have done the work. The timer is ours, not the socket's: a
    // guest reached through its dom0 is an SSH channel, which has no setTimeout.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.onBackendError(preq, Object.assign(new Error('response timeout'), { code: 'GH_GATEWAY_TIMEOUT' }));
      preq.destroy();
    }, this.pool.responseTimeoutMs);
    preq.on('response', this.onResponse);
    preq.on('error', (err: NodeJS.ErrnoException) => this.onBackendError(preq, err));
    if (this.hasBody) this.req.pipe(preq);
    else preq.end();
  }

  private settle(ok: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimer();
    const b = this.backend!;
    b.active--;
    if (ok) b.served++;
    else b.failed++;
    releaseIfIdle(b);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly onResponse = (pres: IncomingMessage): void => {
    this.responded = true;
    this.clearTimer();
    const h = pres.headers;
    delete h.connection;
    delete h['keep-alive'];
    if (this.pool.closing) h.connection = 'close';
    const res = this.res;
    res.writeHead(pres.statusCode ?? 502, pres.statusMessage, h);
    const preq = this.preq!;
    pres.on('error', (err: NodeJS.ErrnoException) => this.onBackendError(preq, err));
    pres.pipe(res);
  };

  private onBackendError(preq: ClientRequest, err: NodeJS.ErrnoException): void {
    if (preq !== this.preq || this.settled) return;
    this.settle(false);
    if (this.responded) {
      // Mid-body failure: the client must see a broken response, not a truncated "success".
      this.res.destroy();
      return;
    }
    if (this.canRetry && err.code !== undefined && RETRYABLE.has(err.code)) {
      this.canRetry = false;
      const next = choose(this.pool, this.backend);
      if (next !== undefined) {
        this.start(next);
        return;
      }
    }
    if (this.hasBody) {
      this.req.unpipe(preq);
      this.req.resume();
    }
    if (err.code === 'GH_GATEWAY_TIMEOUT') reply(this.res, 504, this.pool.gatewayTimeoutBody, this.pool.closing);
    else reply(this.res, 502, this.pool.badGatewayBody, this.pool.closing);
  }

  private readonly onClientClose = (): void => {
    if (this.settled) return;
    if (this.res.writableFinished) {
      this.settle(true);
      return;
    }
    // The client went away (or the front end was torn down): stop the backend work too.
    this.preq?.destroy();
    this.settle(false);
  };
}
