// One command over HAProxy's stats socket (a unix path or a TCP address): connect, write the
// line, read until HAProxy closes (non-interactive mode answers one command per connection).
// Transport failures become typed errors; what the reply says is runtime-replies.ts' business.
import net from 'node:net';
import { GridhostError } from '../../../errors/errors.ts';

export { formatSocketAddress, parseSocketAddress, type SocketAddress } from './runtime-address.ts';
import { formatSocketAddress, type SocketAddress } from './runtime-address.ts';

/** Largest reply read (a `show stat` of a few hundred servers is well below). */
const MAX_REPLY_BYTES = 8 * 1024 * 1024;

/**
 * Send `command` and resolve with everything HAProxy wrote before closing.
 * Rejects with GH_HAPROXY_UNREACHABLE (no socket, refused, reset, no answer within
 * `timeoutMs`) or GH_HAPROXY_PERMISSION_DENIED (the unix socket's file mode shuts us out).
 */
export function sendCommand(addr: SocketAddress, command: string, timeoutMs: number): Promise<string> {
  const where = formatSocketAddress(addr);
  return new Promise((resolve, reject) => {
    const sock = addr.kind === 'unix' ? net.createConnection({ path: addr.path }) : net.createConnection({ host: addr.host, port: addr.port });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: GridhostError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(() => {
      finish(new GridhostError('GH_HAPROXY_UNREACHABLE', `HAProxy's stats socket ${where} did not answer within ${timeoutMs} ms`, { socket: where }));
    }, timeoutMs);
    sock.setNoDelay(true);
    // Not end(): HAProxy answers and closes; a half-closed client can abort slow commands.
    sock.on('connect', () => sock.write(`${command}\n`));
    sock.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REPLY_BYTES) {
        finish(new GridhostError('GH_HAPROXY_COMMAND_FAILED', `HAProxy's reply to "${command.split(' ').slice(0, 2).join(' ')}" exceeded ${MAX_REPLY_BYTES} bytes`, { socket: where }));
        return;
      }
      chunks.push(c);
    });
    sock.on('end', () => finish(undefined));
    sock.on('close', () => finish(undefined));
    sock.on('error', (e: NodeJS.ErrnoException) => finish(transportError(e, where)));
  });
}

function transportError(e: NodeJS.ErrnoException, where: string): GridhostError {
  const details = { socket: where, errno: e.code };
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return new GridhostError('GH_HAPROXY_PERMISSION_DENIED',
      `no permission to open HAProxy's stats socket ${where} (${e.code}): run gridhost as a user the socket's "mode"/"user"/"group" in haproxy.cfg allow`, details, { cause: e });
  }
  const why =
    e.code === 'ENOENT' ? 'no such socket: is HAProxy running, and does haproxy.cfg say `stats socket` with this path?'
      : e.code === 'ECONNREFUSED' ? 'connection refused: is HAProxy running, and does haproxy.cfg say `stats socket` at this address?'
        : e.message;
  return new GridhostError('GH_HAPROXY_UNREACHABLE', `cannot reach HAProxy's stats socket ${where}: ${why}`, details, { cause: e });
}
