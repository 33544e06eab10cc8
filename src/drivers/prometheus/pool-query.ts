// The pool-query role: read one number about a pool from a monitoring system (a rule with
// `source: prometheus` asks its PromQL query each tick). Implementations: prometheus-query.ts
// (Prometheus's HTTP API through axios), fake-pool-query.ts for the pool loop's tests.
//
// Error contract: query() resolves the query's value, or undefined when the query returned no
// series (nothing measured: the rule's metric is missing). It rejects only with GridhostError
// GH_QUERY_FAILED (server unreachable, timeout, non-2xx, a PromQL error, more than one series,
// a value that is not a finite number); the message says what to fix and never carries the
// server's credentials. Either way the caller counts the metric as missing (on_missing).

export interface PoolQuery {
  query(promql: string, signal?: AbortSignal): Promise<number | undefined>;
}
