// Binding the API's HTTP server. A bind failure is a clear GH_LISTEN_FAILED naming the address
// and the setting it came from (never a TypeError from a server that did not start), and HTTP
// the parser rejects (a malformed request line or header) is answered with the API's JSON error
// shape instead of Node's bare 400.
import http, { type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { GridhostError } from '../errors/errors.ts';
import { formatHostPort, parseHostPort } from '../drivers/balancer/builtin/address.ts';

export interface ListenOptions {
  /** `host:port`; port 0 binds an ephemeral port (tests). */
  listen: string;
  /** Where the address was configured, for the error: e.g. `api.listen in /etc/gridhost.yaml`. */
  setting: string;
  /** Called for requests the HTTP parser refused (logged at debug by the caller). */
  onClientError?: (err: Error & { code?: string }) => void;
}

const WHY: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (is another gridhost or another service running there?)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not one of this machine\'s',
};

/** Bind `handler` at `opts.listen`. Rejects only with GridhostError GH_LISTEN_FAILED. */
export async function listenHttp(handler: RequestListener, opts: ListenOptions): Promise<Server> {
  const at = parseHostPort(opts.listen, true);
  if (!at) {
    throw new GridhostError('GH_LISTEN_FAILED', `cannot listen on ${JSON.stringify(opts.listen)} (${opts.setting}): not host:port, e.g. 127.0.0.1:8700`, { address: opts.listen, setting: opts.setting });
  }
  const server = http.createServer(handler);
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    opts.onClientError?.(err);
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({ error: { code: 'GH_BAD_REQUEST', message: status === 431 ? 'request headers too large' : 'malformed HTTP request' } });
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error & { code?: string }) => {
      server.off('listening', onListening);
      const why = (e.code && WHY[e.code]) ?? e.message;
      reject(new GridhostError('GH_LISTEN_FAILED', `cannot listen on ${formatHostPort(at.host, at.port)} (${opts.setting}): ${why}`, { address: opts.listen, setting: opts.setting, errno: e.code }, { cause: e }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(at.port, at.host);
  });
  return server;
}

/** `http://host:port` of a listening server. */
export function serverUrl(server: Server): string {
  const a = server.address() as AddressInfo;
  return `http://${formatHostPort(a.address, a.port)}`;
}
