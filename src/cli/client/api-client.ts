// The CLI's side of gridhost's REST API: where it is, the token, and errors an operator can act
// on (gridhost not running, a refused token, the API's own coded errors).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface Connection {
  url: string;
  token?: string;
}

/** A request that did not succeed; `code` is the API's GH_* code when it sent one. */
export class ApiError extends Error {
  constructor(message: string, readonly status?: number, readonly code?: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

/** Flags, then the environment, then gridhost.yaml (GRIDHOST_CONFIG or ./gridhost.yaml), then the default. */
export function resolveConnection(flags: { url?: string; token?: string }, env: NodeJS.ProcessEnv, cwd: string): Connection {
  let file: { listen?: unknown; token?: unknown } = {};
  const cfgPath = env.GRIDHOST_CONFIG ? env.GRIDHOST_CONFIG : join(cwd, 'gridhost.yaml');
  try {
    if (existsSync(cfgPath)) file = ((parse(readFileSync(cfgPath, 'utf8')) as { api?: typeof file } | null)?.api) ?? {};
  } catch {
    // An unreadable config is gridhost run's problem to report; the client falls back.
  }
  const listen = env.GRIDHOST_API_LISTEN || (typeof file.listen === 'string' ? file.listen : undefined) || '127.0.0.1:8700';
  const url = (flags.url || env.GRIDHOST_URL || `http://${listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}`).replace(/\/+$/, '');
  const token = flags.token || env.GRIDHOST_API_TOKEN || (typeof file.token === 'string' ? file.token : undefined);
  return token ? { url, token } : { url };
}

export class ApiClient {
  constructor(readonly conn: Connection, private readonly timeoutMs = 30_000) {}

  get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    return this.request<T>('GET', path, query);
  }

  /** Writes may wait for a drain or a launch: no client-side timeout unless given. */
  post<T>(path: string, body: Record<string, unknown>, timeoutMs = 0): Promise<T> {
    return this.request<T>('POST', path, {}, body, timeoutMs);
  }

  private async request<T>(method: string, path: string, query: Record<string, string | number | undefined>, body?: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const qs = Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
    const url = `${this.conn.url}${path}${qs ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.conn.token) headers.authorization = `Bearer ${this.conn.token}`;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(timeoutMs > 0 ? { signal: AbortSignal.timeout(timeoutMs) } : {}) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new ApiError(`cannot reach gridhost at ${this.conn.url} (${why}): is \`gridhost run\` running there? Set --url or GRIDHOST_URL`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ApiError(`${this.conn.url} answered ${res.status} with something other than JSON: is it gridhost?`, res.status);
    }
    if (res.ok) return json as T;
    const err = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }).error;
    if (res.status === 401 && !this.conn.token) throw new ApiError(`${err?.message ?? 'unauthorized'}; give the token with GRIDHOST_API_TOKEN (or --token)`, 401, err?.code);
    throw new ApiError(`${err?.code ? `${err.code}: ` : ''}${err?.message ?? `HTTP ${res.status}`}`, res.status, err?.code, err?.details);
  }
}
