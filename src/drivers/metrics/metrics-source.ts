// The metrics-source role: measure guests. Implementations: per-process CPU from /proc (local),
// guest-reported load over HTTP (any driver), xentop over SSH (xen).
//
// Error contract: sample() never rejects for a single guest's failure; a guest that could not
// be measured is simply absent from the result (the decision core treats it as missing).
// It rejects only with GridhostError (GH_HOST_UNREACHABLE) when the whole source is down.
import type { Guest, MetricValues } from '../../domain/types.ts';

export interface MetricsSource {
  readonly name: string;
  /** Measure the given guests now. Returns guest id -> values for the guests it could measure. */
  sample(guests: readonly Guest[]): Promise<Map<string, MetricValues>>;
  close(): Promise<void>;
}
