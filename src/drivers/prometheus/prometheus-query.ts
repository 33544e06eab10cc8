// PoolQuery on a real Prometheus: one instant query (GET /api/v1/query) through axios, with a
// timeout that covers the connect phase, no redirects, a bounded body. The answer must be one
// number: a scalar, or an instant vector of at most one series (none = nothing measured).
// Credentials in the URL (http://user:password@host) are sent as basic auth and never appear
// in an error message. Error contract: pool-query.ts.
import axios from 'axios';
import { GridhostError } from '../../errors/errors.ts';
import type { PoolQuery } from './pool-query.ts';

export interface PrometheusQueryOptions {
  /** Base URL of the Prometheus server (http(s)://host:port[/prefix]). */
  url: string;
  timeoutMs: number;
}

const MAX_BODY = 1 << 20;

interface PromAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: unknown };
}

export class PrometheusQuery implements PoolQuery {
  private readonly endpoint: string;
  private readonly auth?: { username: string; password: string };
  /** The server as it may be shown: no credentials. */
  readonly shownUrl: string;

  constructor(private readonly o: PrometheusQueryOptions) {
    const u = new URL(o.url);
    if (u.username !== '' || u.password !== '') {
      this.auth = { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
      u.username = '';
      u.password = '';
    }
    this.shownUrl = u.toString().replace(/\/$/, '');
    this.endpoint = `${this.shownUrl}/api/v1/query`;
  }

  async query(promql: string, signal?: AbortSignal): Promise<number | undefined> {
    const fail = (why: string): never => {
      throw new GridhostError('GH_QUERY_FAILED', `Prometheus query at ${this.shownUrl} failed: ${why}`);
    };
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    let res;
    try {
      res = await axios.request<string>({
        method: 'GET',
        url: this.endpoint,
        params: { query: promql },
        ...(this.auth ? { auth: this.auth } : {}),
        timeout: this.o.timeoutMs,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        maxRedirects: 0,
        maxContentLength: MAX_BODY,
        responseType: 'text',
        transformResponse: (d: unknown) => d,
        validateStatus: () => true,
      });
    } catch (e) {
      const err = e as { code?: string; name?: string; message?: string };
      if (err.code === 'ECONNABORTED' || err.code === 'ERR_CANCELED' || err.name === 'CanceledError' || err.name === 'TimeoutError') {
        return fail(`no answer within ${this.o.timeoutMs} ms (prometheus.timeout)`);
      }
      return fail(`request failed: ${err.code ?? err.message ?? String(e)}`);
    }
    let body: PromAnswer;
    try {
      body = JSON.parse(String(res.data)) as PromAnswer;
    } catch {
      return fail(`HTTP ${res.status}, not a Prometheus API answer (is prometheus.url the server's base URL?)`);
    }
    if (body.status !== 'success') {
      return fail(`HTTP ${res.status}${body.errorType ? ` ${body.errorType}` : ''}: ${String(body.error ?? 'no error given').slice(0, 300)}`);
    }
    return valueOf(body.data, fail);
  }
}

function valueOf(data: PromAnswer['data'], fail: (why: string) => never): number | undefined {
  const type = data?.resultType;
  const result = data?.result;
  let raw: unknown;
  if (type === 'scalar') raw = (result as unknown[] | undefined)?.[1];
  else if (type === 'vector') {
    const series = (result ?? []) as { value?: unknown[] }[];
    if (series.length === 0) return undefined;
    if (series.length > 1) fail(`the query returned ${series.length} series; a rule needs one number (aggregate it, e.g. sum(...) or avg(...))`);
    raw = series[0]!.value?.[1];
  } else if (type === 'matrix') {
    return fail('the query returned a range vector; a rule needs an instant value (e.g. rate(x[1m]), not x[1m])');
  } else {
    return fail(`the query returned a ${String(type)}; a rule needs one number`);
  }
  const v = Number(raw);
  // NaN (0/0 over an idle pool) or a missing value: nothing measured, like an empty answer.
  if (raw === undefined || Number.isNaN(v)) return undefined;
  if (!Number.isFinite(v)) return fail(`the query returned ${String(raw)}; a rule needs a finite number`);
  return v;
}
