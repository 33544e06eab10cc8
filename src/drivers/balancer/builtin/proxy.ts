// The builtin balancer's hot path: one proxied exchange per client request. Streams bodies both
// ways, picks the least loaded ready+healthy backend (any proven one in fail-open), retries a
// bodyless GET/HEAD once on another backend when the connection failed before any response
// byte, and counts what it served (serving-counter.ts). No logging here on purpose.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { BackendAdmin, CheckResult } from '../balancer.ts';
import type { GuestConnect } from '../../guest-net/guest-net.ts';
import type { HealthState } from './health-check.ts';
import { pickBackend } from './pick-backend.ts';
import type { ServingCounter } from './serving-counter.ts';

export interface ProxyBackend extends HealthState {
  id: string;
  address: string;
  host: string;
  port: number;
  admin: BackendAdmin;
  active: number;
  served: number;
  failed: number;
  /** Has passed its health check since it was added (fail-open routes only to these). */
  proven: boolean;
  /** healthy -> unhealthy transitions since it was added. */
  downs: number;
  lastCheck?: CheckResult;
  changedAt?: number;
  /** Epoch ms its last request completed (auto-heal tells a busy guest from a broken one). */
  servedAt?: number;
  stats: ServingCounter;
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
  /** Too few backends pass their checks: route to every proven ready one (panic.ts). */
  failOpen: boolean;
  stats: ServingCounter;
  /** Requests answered 503 because no backend could take them. */
  noBackend: number;
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
  const i = pickBackend(pool.backends, pool.cursor, skip, pool.failOpen);
  if (i < 0) return undefined;
  pool.cursor = i + 1;
  return pool.backends[i];
}

/** Release a backend's sockets once it is removed and idle. */
export function releaseIfIdle(b: ProxyBackend): void {
  if (b.removed && b.active === 0) b.agent.destroy();
}

export function handleRequest(pool: ProxyPool, req: IncomingMessage, res: ServerResponse): void {
  const arrived = performance.now();
  const fe = pool.stats;
  fe.requests++;
  fe.inFlightBy(1);
  res.once('close', () => fe.inFlightBy(-1));
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
    pool.noBackend++;
    reply(pool, res, arrived, 503, pool.noBackendBody);
    return;
  }
  const canRetry = !hasBody && (req.method === 'GET' || req.method === 'HEAD');
  new Exchange(pool, req, res, arrived, hasBody, canRetry).start(b);
}

/** An answer the balancer makes itself (503/502/504), counted at the front end. */
function reply(pool: ProxyPool, res: ServerResponse, arrived: number, status: number, body: Buffer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  pool.stats.response(status);
  pool.stats.observeLatency(arrived);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': body.length,
    ...(pool.closing ? { connection: 'close' } : {}),
  });
  res.end(body);
}

class Exchange {
  private backend: ProxyBackend | undefined;
  private preq: ClientRequest | undefined;
  private settled = true;
  private responded = false;
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() the current try began, and whether it still waits for a socket. */
  private tryStart = 0;
  private waiting = false;

  constructor(
    private readonly pool: ProxyPool,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly arrived: number,
    private readonly hasBody: boolean,
    private canRetry: boolean,
  ) {
    res.on('close', this.onClientClose);
  }

  start(b: ProxyBackend): void {
    this.backend = b;
    this.settled = false;
    b.active++;
    b.stats.requests++;
    b.stats.inFlightBy(1);
    b.stats.queued++;
    this.pool.stats.queued++;
    this.tryStart = performance.now();
    this.waiting = true;
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
    preq.once('socket', () => {
      if (preq === this.preq) this.dequeue(true);
    });
    preq.on('response', this.onResponse);
    preq.on('error', (err: NodeJS.ErrnoException) => this.onBackendError(preq, err));
    if (this.hasBody) this.req.pipe(preq);
    else preq.end();
  }

  /** The try got its connection (or ended without one). */
  private dequeue(gotSocket: boolean): void {
    if (!this.waiting) return;
    this.waiting = false;
    const s = this.backend!.stats;
    const fe = this.pool.stats;
    s.queued--;
    fe.queued--;
    if (gotSocket) {
      s.observeQueue(this.tryStart);
      fe.observeQueue(this.tryStart);
    }
  }

  private settle(ok: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.clearTimer();
    this.dequeue(false);
    const b = this.backend!;
    b.active--;
    b.stats.inFlightBy(-1);
    if (ok) {
      b.served++;
      b.servedAt = Date.now();
    }    else b.failed++;
    releaseIfIdle(b);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly onResponse = (pres: IncomingMessage): void => {
    this.responded = true;
    this.clearTimer();
    const status = pres.statusCode ?? 502;
    const b = this.backend!;
    b.stats.response(status);
    b.stats.observeLatency(this.tryStart);
    const h = pres.headers;
    delete h.connection;
    delete h['keep-alive'];
    if (this.pool.closing) h.connection = 'close';
    const res = this.res;
    this.pool.stats.response(status);
    this.pool.stats.observeLatency(this.arrived);
    res.writeHead(status, pres.statusMessage, h);
    const preq = this.preq!;
    pres.on('error', (err: NodeJS.ErrnoException) => this.onBackendError(preq, err));
    pres.pipe(res);
  };

  private onBackendError(preq: ClientRequest, err: NodeJS.ErrnoException): void {
    if (preq !== this.preq || this.settled) return;
    const b = this.backend!;
    const timedOut = err.code === 'GH_GATEWAY_TIMEOUT';
    const fe = this.pool.stats;
    if (timedOut) fe.upstreamTimeouts++;
    else fe.upstreamErrors++;
    if (timedOut) {
      b.stats.upstreamTimeouts++;
      // It took that long to give up: a hung guest must not look fast.
      b.stats.observeLatency(this.tryStart);
    } else b.stats.upstreamErrors++;
    this.settle(false);
    if (this.responded) {
      // Mid-body failure: the client must see a broken response, not a truncated "success".
      this.res.destroy();
      return;
    }
    if (this.canRetry && err.code !== undefined && RETRYABLE.has(err.code)) {
      this.canRetry = false;
      const next = choose(this.pool, b);
      if (next !== undefined) {
        this.start(next);
        return;
      }
    }
    if (this.hasBody) {
      this.req.unpipe(preq);
      this.req.resume();
    }
    const status = timedOut ? 504 : 502;
    // The answer the client gets because of this backend counts at it too (HAProxy does so).
    if (!this.res.headersSent) b.stats.response(status);
    reply(this.pool, this.res, this.arrived, status, timedOut ? this.pool.gatewayTimeoutBody : this.pool.badGatewayBody);
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
