// wrk(1) as a child process: start it against a URL, stop it with SIGINT (it then prints its
// summary), and read requests, non-2xx/3xx answers and socket errors from that summary.
import { spawn } from 'node:child_process';

export interface WrkResult {
  requests: number;
  /** Answers outside 2xx/3xx. */
  non2xx: number;
  /** Socket errors: connect, read, write, timeout (wrk's --timeout). */
  connect: number;
  read: number;
  write: number;
  timeout: number;
  text: string;
}

export function parseWrk(text: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: num(/(\d+) requests in /),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    connect: Number(sock?.[1] ?? 0),
    read: Number(sock?.[2] ?? 0),
    write: Number(sock?.[3] ?? 0),
    timeout: Number(sock?.[4] ?? 0),
    text,
  };
}

export function failures(r: WrkResult): number {
  return r.non2xx + r.connect + r.read + r.write + r.timeout;
}

/** Runs `wrk -c connections` until stop() (at most maxSeconds). */
export function startWrk(url: string, connections: number, maxSeconds = 900, timeoutSeconds = 10): { stop: () => Promise<WrkResult> } {
  const child = spawn('wrk', ['-t', '2', '-c', String(connections), '-d', `${maxSeconds}s`, '--timeout', `${timeoutSeconds}s`, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
      return parseWrk(out);
    },
  };
}
