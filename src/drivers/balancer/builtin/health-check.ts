// Active health checks with HAProxy semantics: `rise` consecutive successes make a backend
// healthy, `fall` consecutive failures make it unhealthy. A new backend starts unhealthy.
import http from 'node:http';
import { createConnectionVia, type GuestConnect } from '../../guest-net/guest-net.ts';

export interface HealthState {
  healthy: boolean;
  /** Consecutive successes while unhealthy. */
  okStreak: number;
  /** Consecutive failures while healthy. */
  failStreak: number;
}

/** Apply one check result; returns true when `healthy` flipped. Mutates `s` (one per backend). */
export function applyCheck(s: HealthState, ok: boolean, rise: number, fall: number): boolean {
  if (ok) {
    s.failStreak = 0;
    if (s.healthy) return false;
    s.okStreak += 1;
    if (s.okStreak < rise) return false;
    s.okStreak = 0;
    s.healthy = true;
    return true;
  }
  s.okStreak = 0;
  if (!s.healthy) return false;
  s.failStreak += 1;
  if (s.failStreak < fall) return false;
  s.failStreak = 0;
  s.healthy = false;
  return true;
}

export interface ProbeResult {
  ok: boolean;
  /** What the check saw: `HTTP 200`, `HTTP 503`, `timeout after 2000 ms`, `connection refused (ECONNREFUSED)`. */
  detail: string;
}

function describeError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connection refused (ECONNREFUSED)';
    case 'ECONNRESET': return 'connection reset (ECONNRESET)';
    case 'EHOSTUNREACH': return 'host unreachable (EHOSTUNREACH)';
    case 'ETIMEDOUT': return 'connect timed out (ETIMEDOUT)';
    default: return err.code ? `${err.message} (${err.code})` : err.message;
  }
}

/**
 * One HTTP check: GET `path`; 2xx and 3xx pass (as in HAProxy). Never rejects. With `connect`
 * the connection is opened through the backend's host (guest-net) instead of directly.
 */
export function probe(host: string, port: number, path: string, timeoutMs: number, connect?: GuestConnect): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean, detail: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, detail });
    };
    // A fresh connection per check (agent: false) so a check also proves the guest accepts connections.
    const how = connect ? { createConnection: createConnectionVia(connect) } : { agent: false as const };
    const req = http.request({ host, port, path, method: 'GET', ...how, headers: { connection: 'close' } }, (res) => {
      const code = res.statusCode ?? 0;
      res.resume();
      res.on('end', () => done(code >= 200 && code < 400, `HTTP ${code}`));
      res.on('error', (err: NodeJS.ErrnoException) => done(false, `HTTP ${code}, then ${describeError(err)}`));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done(false, `timeout after ${timeoutMs} ms`);
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => done(false, describeError(err)));
    req.end();
  });
}
