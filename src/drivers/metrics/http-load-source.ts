// Guest-reported load over HTTP (any driver): GET http://<address><metricsPath> and report every
// top-level numeric value as-is (e.g. `rps`, `inflight`). Accepts a JSON object of numbers or
// Prometheus text exposition (unlabelled samples only).
import type http from 'node:http';
import axios from 'axios';
import type { Guest, MetricValues } from '../../domain/types.ts';
import type { MetricsSource } from './metrics-source.ts';

export interface HttpLoadSourceOptions {
  /** Path to GET on each guest, or a function of the guest (undefined: skip it). */
  metricsPath: string | ((guest: Guest) => string | undefined);
  /** Per-request timeout. Default 2000 ms. */
  timeoutMs?: number;
  /** A larger body is not a measurement (a guest must not make gridhost buffer without end). Default 64 KiB. */
  maxBodyBytes?: number;
  /** An agent reaching the guest another way (its dom0's SSH: drivers/guest-net); undefined: directly. */
  agentFor?: (guest: Guest) => http.Agent | undefined;
}

export class HttpLoadSource implements MetricsSource {
  readonly name = 'http-load';
  private readonly pathOf: (guest: Guest) => string | undefined;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly agentFor: ((guest: Guest) => http.Agent | undefined) | undefined;

  constructor(opts: HttpLoadSourceOptions) {
    const p = opts.metricsPath;
    this.pathOf = typeof p === 'string' ? () => p : p;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;
    this.agentFor = opts.agentFor;
  }

  async sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>> {
    const results = await Promise.all(guests.map(async (g) => [g.id, await this.one(g)] as const));
    const out = new Map<string, MetricValues>();
    for (const [id, values] of results) if (values) out.set(id, values);
    return out;
  }

  async close(): Promise<void> {}

  private async one(g: Guest): Promise<MetricValues | undefined> {
    const p = this.pathOf(g);
    if (!g.address || p === undefined) return undefined;
    const agent = this.agentFor?.(g);
    try {
      const res = await axios.get<string>(`http://${g.address}${p.startsWith('/') ? p : `/${p}`}`, {
        ...(agent ? { httpAgent: agent } : {}),
        timeout: this.timeoutMs,
        maxContentLength: this.maxBodyBytes,
        responseType: 'text',
        transformResponse: (d: unknown) => d, // parse it ourselves: JSON or Prometheus text
        maxRedirects: 0,
        validateStatus: (s) => s === 200,
      });
      return parseMetricsBody(String(res.data ?? ''), String(res.headers['content-type'] ?? ''));
    } catch {
      return undefined;
    }
  }
}

const PROM_LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)\s+(\S+)(?:\s+-?\d+)?$/;

/**
 * Parses a metrics body: a JSON object (top-level finite numbers kept) or Prometheus text
 * (`name value [timestamp]` lines; comments and labelled samples skipped).
 * Undefined when nothing numeric was found.
 */
export function parseMetricsBody(body: string, contentType = ''): MetricValues | undefined {
  const text = body.trim();
  const values: MetricValues = {};
  if (contentType.includes('json') || text.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
    for (const [k, v] of Object.entries(doc)) if (typeof v === 'number' && Number.isFinite(v)) values[k] = v;
  } else {
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const m = PROM_LINE.exec(line);
      if (!m) continue; // labelled or malformed
      const v = Number(m[2]);
      if (Number.isFinite(v)) values[m[1] as string] = v;
    }
  }
  return Object.keys(values).length > 0 ? values : undefined;
}
