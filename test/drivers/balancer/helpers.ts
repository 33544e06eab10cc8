// Test guests for balancer tests: plain node:http servers on 127.0.0.1, port 0.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestBackend {
  id: string;
  address: string;
  port: number;
  /** Non-health requests received. */
  hits: number;
  /** Health checks received. */
  checks: number;
  /** What /healthz answers. */
  healthy: boolean;
  /** Delay before answering non-health requests (`/status/NNN` answers with that status). */
  delayMs: number;
  /** While true, non-health requests wait for release(). */
  held: boolean;
  /** Answer every held request and stop holding. */
  release(): void;
  /** Graceful stop (idle keep-alive connections closed). */
  close(): Promise<void>;
  /** Abrupt stop: every connection cut. */
  kill(): Promise<void>;
}

export async function startBackend(id: string, opts: { healthy?: boolean; delayMs?: number } = {}): Promise<TestBackend> {
  let closed = false;
  const waiting: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      tb.checks++;
      res.statusCode = tb.healthy ? 200 : 503;
      res.end(tb.healthy ? 'ok' : 'not yet');
      return;
    }
    tb.hits++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (): void => {
        const body = Buffer.concat(chunks);
        res.setHeader('x-backend', id);
        res.setHeader('x-seen-forwarded-for', String(req.headers['x-forwarded-for'] ?? ''));
        const status = /^\/status\/(\d{3})$/.exec(req.url ?? '');
        if (status) res.statusCode = Number(status[1]);
        if (req.url === '/echo') res.end(body);
        else res.end(id);
      };
      if (tb.held) waiting.push(answer);
      else if (tb.delayMs > 0) setTimeout(answer, tb.delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const stop = async (abrupt: boolean): Promise<void> => {
    if (closed) return;
    closed = true;
    tb.release();
    const done = new Promise((r) => server.close(r));
    if (abrupt) server.closeAllConnections();
    else server.closeIdleConnections();
    await done;
  };
  const tb: TestBackend = {
    id,
    address: `127.0.0.1:${port}`,
    port,
    hits: 0,
    checks: 0,
    healthy: opts.healthy ?? true,
    delayMs: opts.delayMs ?? 0,
    held: false,
    release: () => {
      tb.held = false;
      for (const answer of waiting.splice(0)) answer();
    },
    close: () => stop(false),
    kill: () => stop(true),
  };
  return tb;
}

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function send(
  address: string,
  opts: { method?: string; path?: string; body?: Buffer | string; agent?: http.Agent; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port: Number(port), method: opts.method ?? 'GET', path: opts.path ?? '/', agent: opts.agent ?? false, headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Poll until `cond` holds; rejects after `timeoutMs` with `what` so a hung state fails the test. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Run `total` requests with `concurrency` workers; returns how many of each status (0 = transport error). */
export async function load(
  total: number,
  concurrency: number,
  one: (i: number) => Promise<number>,
): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      let status: number;
      try {
        status = await one(i);
      } catch {
        status = 0;
      }
      counts.set(status, (counts.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}
