// The pool the monitoring tests read gridhost's series from: 2 to 3 local web guests, sampled
// every 500 ms, scaled on CPU by target tracking, so that per-guest, per-pool, balancer and
// driver series are all exported once its guests serve.
export function monitoredPoolPolicy(pool: string, lbPort: number): string {
  return `
pool: ${pool}
min: 2
max: 3
guest:
  driver: local
  template: web.local.yaml
  image: images/web
  boot_timeout: 20s
balancer:
  listen: 127.0.0.1:${lbPort}
sampling:
  interval: 500ms
  window: 10s
rules:
  - name: cpu
    strategy: target-tracking
    metric: cpu
    target: 75
`;
}
