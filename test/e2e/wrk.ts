// wrk (Debian's package) as the load generator of the zero-failure tests and the benchmark:
// fixed connections, fixed duration, HTTP/1.1 keep-alive. A Lua script counts every response
// outside 2xx (wrk's own count starts at 400) and prints, as one JSON line, the socket errors
// and the latency quantiles. Anything that runs it must hold /tmp/gridhost-heavy.lock.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WRK_BIN = process.env.WRK_BIN ?? '/usr/bin/wrk';

/** Quantiles printed per run, in percent: 0.5 steps, then the tail in finer ones. */
const QUANTILES = [...Array.from({ length: 198 }, (_, i) => (i + 1) * 0.5), 99.5, 99.9, 99.99, 100];

export interface WrkResult {
  requests: number;
  durationS: number;
  /** Responses with a status outside 200-299. */
  non2xx: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  /** Requests without an answer within --timeout. */
  timeouts: number;
  /** Latency quantiles in ms: [percent, ms]. */
  quantiles: Array<[number, number]>;
  startedAt: number;
  endedAt: number;
}

export interface WrkOptions {
  url: string;
  connections: number;
  durationS: number;
  threads?: number;
  /** A request that has not been answered by then counts as a timeout. Default 10 s. */
  timeoutS?: number;
  /** Pause before each request on a connection (pacing: at most connections x 1000/delayMs req/s). */
  delayMs?: number;
}

function script(delayMs: number): string {
  return `
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
${delayMs > 0 ? `function delay() return ${delayMs} end` : ''}
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("non2xx") end
  local q = {}
  for _, p in ipairs({${QUANTILES.join(',')}}) do
    table.insert(q, string.format("[%g,%.3f]", p, latency:percentile(p) / 1000))
  end
  io.write(string.format('WRK-RESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"quantiles":[%s]}\\n',
    summary.requests, summary.duration, n, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout, table.concat(q, ",")))
end
`;
}

/** One wrk run; resolves when it has finished. `signal` stops it early (wrk reports what it did). */
export function runWrk(o: WrkOptions, signal?: AbortSignal): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gridhost-wrk-'));
  const lua = join(dir, 'count.lua');
  writeFileSync(lua, script(o.delayMs ?? 0));
  const args = ['-t', String(o.threads ?? 1), '-c', String(o.connections), '-d', `${o.durationS}s`, '--timeout', `${o.timeoutS ?? 10}s`, '-s', lua, o.url];
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(WRK_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const onAbort = (): void => void child.kill('SIGINT');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => reject(e));
    child.once('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      rmSync(dir, { recursive: true, force: true });
      const line = out.split('\n').find((l) => l.startsWith('WRK-RESULT '));
      if (!line) return reject(new Error(`wrk exited ${code} without its result: ${err || out}`));
      const j = JSON.parse(line.slice('WRK-RESULT '.length)) as { requests: number; duration_us: number; non2xx: number; connect: number; read: number; write: number; timeout: number; quantiles: Array<[number, number]> };
      resolve({
        requests: j.requests, durationS: j.duration_us / 1e6, non2xx: j.non2xx,
        connectErrors: j.connect, readErrors: j.read, writeErrors: j.write, timeouts: j.timeout,
        quantiles: j.quantiles, startedAt, endedAt: Date.now(),
      });
    });
  });
}

/** Requests that failed: a response outside 2xx or any socket error (connect, read, write, timeout). */
export function failures(r: Pick<WrkResult, 'non2xx' | 'connectErrors' | 'readErrors' | 'writeErrors' | 'timeouts'>): number {
  return r.non2xx + r.connectErrors + r.readErrors + r.writeErrors + r.timeouts;
}

/** Sum of several runs' counts. */
export function total(runs: readonly WrkResult[]): { requests: number; non2xx: number; connectErrors: number; readErrors: number; writeErrors: number; timeouts: number } {
  const t = { requests: 0, non2xx: 0, connectErrors: 0, readErrors: 0, writeErrors: 0, timeouts: 0 };
  for (const r of runs) {
    t.requests += r.requests;
    t.non2xx += r.non2xx;
    t.connectErrors += r.connectErrors;
    t.readErrors += r.readErrors;
    t.writeErrors += r.writeErrors;
    t.timeouts += r.timeouts;
  }
  return t;
}

/**
 * The p-quantile (percent) of several runs pooled: each run's printed quantiles stand for
 * equal shares of its requests, weighted by its request count (good to the 0.5% steps printed).
 */
export function pooledQuantile(runs: readonly WrkResult[], p: number): number | undefined {
  const points: Array<[number, number]> = [];
  for (const r of runs) {
    if (r.requests === 0) continue;
    let prev = 0;
    for (const [pct, ms] of r.quantiles) {
      points.push([ms, (r.requests * (pct - prev)) / 100]);
      prev = pct;
    }
  }
  if (points.length === 0) return undefined;
  points.sort((a, b) => a[0] - b[0]);
  const all = points.reduce((n, [, w]) => n + w, 0);
  let seen = 0;
  for (const [ms, w] of points) {
    seen += w;
    if (seen >= (all * p) / 100) return ms;
  }
  return points[points.length - 1]![0];
}

/**
 * Steady load as back-to-back wrk runs of `segmentS` each (the same connections, pacing and
 * timeout), until stop() — so failures are counted over the whole period and latency can be
 * told apart by phase (each segment knows when it ran).
 */
export function steadyLoad(o: Omit<WrkOptions, 'durationS'> & { segmentS: number }) {
  const runs: WrkResult[] = [];
  let stopping = false;
  const abort = new AbortController();
  const loop = (async () => {
    while (!stopping) runs.push(await runWrk({ ...o, durationS: o.segmentS }, abort.signal));
  })();
  return {
    runs,
    /** Stop after the segment running now (or cut it short with `now`). */
    async stop(now = false): Promise<WrkResult[]> {
      stopping = true;
      if (now) abort.abort();
      await loop;
      return runs;
    },
  };
}
