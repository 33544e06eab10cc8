// The policy of a pool that stays at min 2: local guests behind the builtin balancer, sampled
// every 500 ms, and one rule that never fires (rps above 1000), for the tests that are about
// something else (restarts, store outages, failing launches, bad policy files beside it).
// Its first lines are pool, min, max (tests name max's line in issues).
export interface IdlePool {
  pool: string;
  lbPort: number;
  max: number;
  /** Template and image (default: the repo's web.local.yaml and images/web). */
  template?: string;
  image?: string;
  bootTimeout?: string;
  /** Default 2s each. */
  stopTimeout?: string;
  drainTimeout?: string;
  /** More top-level keys, as YAML text. */
  extra?: string;
}

export function idlePoolPolicy(o: IdlePool): string {
  return `pool: ${o.pool}
min: 2
max: ${o.max}
guest:
  driver: local
  template: ${o.template ?? 'web.local.yaml'}
  image: ${o.image ?? 'images/web'}
  boot_timeout: ${o.bootTimeout ?? '20s'}
  stop_timeout: ${o.stopTimeout ?? '2s'}
  drain_timeout: ${o.drainTimeout ?? '2s'}
balancer:
  listen: 127.0.0.1:${o.lbPort}
sampling:
  interval: 500ms
  window: 30s
warmup: 500ms
${o.extra ?? ''}rules:
  - name: busy
    strategy: threshold
    metric: rps
    above: 1000
    for: 2
    step: +1
`;
}
