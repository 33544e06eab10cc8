// The builtin balancer's serving figures for one front end or one backend: counters, a
// time-weighted in-flight integral and two duration histograms, updated on the hot path with
// no allocation and read as a plain ServingStats snapshot (balancer.ts).
import { performance } from 'node:perf_hooks';
import type { DurationHistogram, ServingStats, StatusClass } from '../balancer.ts';

/** 1 ms .. 60 s: from a cached page to a request that hits response_timeout's default. */
export const LATENCY_BOUNDS: readonly number[] = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);

class Histogram {
  readonly counts: number[] = new Array(LATENCY_BOUNDS.length + 1).fill(0);
  sum = 0;

  observe(seconds: number): void {
    const s = seconds > 0 ? seconds : 0;
    let i = 0;
    while (i < LATENCY_BOUNDS.length && s > LATENCY_BOUNDS[i]!) i++;
    this.counts[i]!++;
    this.sum += s;
  }

  snapshot(): DurationHistogram {
    return { bounds: LATENCY_BOUNDS, counts: [...this.counts], sum: this.sum };
  }
}

const CLASS_OF: readonly StatusClass[] = ['5xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export function statusClass(status: number): StatusClass {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? CLASS_OF[c]! : '5xx';
}

export class ServingCounter {
  requests = 0;
  readonly responses: Record<StatusClass, number> = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  upstreamErrors = 0;
  upstreamTimeouts = 0;
  queued = 0;
  private inFlightNow = 0;
  private inFlightArea = 0;
  private lastChange = performance.now();
  private readonly latency = new Histogram();
  private readonly queueTime = new Histogram();

  get inFlight(): number {
    return this.inFlightNow;
  }

  /** Add `delta` (+1 / -1) requests in flight, keeping the time integral exact. */
  inFlightBy(delta: number): void {
    const now = performance.now();
    this.inFlightArea += this.inFlightNow * (now - this.lastChange);
    this.lastChange = now;
    this.inFlightNow += delta;
  }

  response(status: number): void {
    this.responses[statusClass(status)]++;
  }

  /** `sinceMs`: the performance.now() the request (or try) began. */
  observeLatency(sinceMs: number): void {
    this.latency.observe((performance.now() - sinceMs) / 1000);
  }

  observeQueue(sinceMs: number): void {
    this.queueTime.observe((performance.now() - sinceMs) / 1000);
  }

  snapshot(): ServingStats {
    const now = performance.now();
    const area = this.inFlightArea + this.inFlightNow * (now - this.lastChange);
    return {
      requests: this.requests,
      responses: { ...this.responses },
      upstreamErrors: this.upstreamErrors,
      upstreamTimeouts: this.upstreamTimeouts,
      inFlight: this.inFlightNow,
      inFlightSeconds: area / 1000,
      queued: this.queued,
      latency: this.latency.snapshot(),
      queueTime: this.queueTime.snapshot(),
    };
  }
}
