// HTTP over SSH port forwarding: an http.Agent whose connections are ssh2 forwardOut channels,
// so guests on a dom0-only network are reachable (health, metrics) with node's http or axios.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { GridhostError, isGridhostError } from '../../errors/errors.ts';

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const MAX_HTTP_BODY = 4 * 1024 * 1024;

/** An agent (no keep-alive: one forwarded channel per request) opening connections with `open`. */
export function forwardingAgent(open: (host: string, port: number) => Promise<Duplex>): http.Agent {
  const agent = new http.Agent({ keepAlive: false });
  (agent as unknown as { createConnection: unknown }).createConnection = (
    o: { host?: string; port?: number | string },
    cb: (err: Error | null, s?: Duplex) => void,
  ): undefined => {
    open(o.host ?? 'localhost', Number(o.port ?? 80)).then(
      (s) => cb(null, s),
      (e: Error) => cb(e),
    );
    return undefined;
  };
  return agent;
}

/** GET with a hard deadline; rejects GH_COMMAND_TIMEOUT / GH_COMMAND_FAILED (or the agent's own error). */
export function httpGetVia(agent: http.Agent, via: string, host: string, port: number, path: string, timeoutMs: number): Promise<HttpResult> {
  const target = `http://${host}:${port}${path}`;
  return new Promise<HttpResult>((resolve, reject) => {
    let done = false;
    const fail = (e: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      reject(isGridhostError(e) ? e : new GridhostError('GH_COMMAND_FAILED', `${via}: GET ${target} failed: ${(e as Error).message}`, { host: via, target }));
    };
    const timer = setTimeout(
      () => fail(new GridhostError('GH_COMMAND_TIMEOUT', `${via}: GET ${target} got no answer within ${timeoutMs} ms`, { host: via, target, timeoutMs })),
      timeoutMs,
    );
    const req = http.request({ host, port, path, method: 'GET', agent, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size <= MAX_HTTP_BODY) chunks.push(d);
      });
      res.on('error', fail);
      res.on('end', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', fail);
    req.end();
  });
}

/** Give an ssh2 channel the few net.Socket methods node's http client calls. */
export function socketLike(ch: ClientChannel): Duplex {
  const s = ch as ClientChannel & Record<string, unknown>;
  let idle: NodeJS.Timeout | undefined;
  let idleMs = 0;
  const arm = (): void => {
    if (idle) clearTimeout(idle);
    idle = idleMs > 0 ? setTimeout(() => ch.emit('timeout'), idleMs) : undefined;
  };
  s['setTimeout'] = (ms: number, cb?: () => void): Duplex => {
    idleMs = ms;
    if (cb) ch.once('timeout', cb);
    arm();
    return ch;
  };
  ch.on('data', () => {
    if (idleMs > 0) arm();
  });
  ch.once('close', () => {
    if (idle) clearTimeout(idle);
  });
  s['setNoDelay'] = (): Duplex => ch;
  s['setKeepAlive'] = (): Duplex => ch;
  s['ref'] = (): Duplex => ch;
  s['unref'] = (): Duplex => ch;
  return ch;
}
