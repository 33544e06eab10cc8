import test from 'ava';
import type { BalancerChange } from '../drivers/balancer/balancer.ts';
import { logBalancerChange } from './balancer-log.ts';

function capture(c: BalancerChange) {
  const lines: { level: string; msg: string; meta: Record<string, unknown> }[] = [];
  logBalancerChange({ log: ((level: string, msg: string, meta: Record<string, unknown>) => { lines.push({ level, msg, meta }); }) as never }, c);
  return lines[0]!;
}

const cases: Array<[BalancerChange, string, RegExp]> = [
  [{ kind: 'unhealthy', pool: 'web', id: 'web-1', address: '127.0.0.1:1', reason: '2 consecutive health checks of /healthz failed, the last: HTTP 503' }, 'warn', /^backend web-1 of pool web is down: 2 consecutive .* HTTP 503$/],
  [{ kind: 'healthy', pool: 'web', id: 'web-1', reason: '2 consecutive health checks of /healthz passed (HTTP 200)' }, 'info', /^backend web-1 of pool web is up: /],
  [{ kind: 'fail-open', pool: 'web', reason: '0 of 2 backends pass their health check' }, 'warn', /^pool web fails open: 0 of 2/],
  [{ kind: 'fail-open-over', pool: 'web', reason: '2 of 2 backends pass' }, 'info', /^pool web no longer fails open/],
  [{ kind: 'no-backend', pool: 'web', reason: 'no backend can take requests: clients get 503' }, 'error', /^pool web has no backend that can serve: .*503/],
  [{ kind: 'serving', pool: 'web', reason: '1 backend can take requests' }, 'info', /^pool web serves again/],
  [{ kind: 'added', pool: 'web', id: 'web-1', address: '127.0.0.1:1' }, 'debug', /^balancer$/],
];

for (const [change, level, msg] of cases) {
  test(`a balancer "${change.kind}" change is logged at ${level}, with the reason`, (t) => {
    const line = capture(change);
    t.is(line.level, level);
    t.regex(line.msg, msg);
    t.like(line.meta, { event: 'balancer', kind: change.kind, pool: 'web' });
    if (change.reason) t.is(line.meta.reason, change.reason);
    if (change.id) t.is(line.meta.backend, change.id);
  });
}
