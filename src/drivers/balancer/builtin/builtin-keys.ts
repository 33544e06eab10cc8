// The builtin balancer's keys of a policy's `balancer:` section: its front end (`listen`), how
// long a backend may take to begin its answer and its fail-open threshold. It has no section in
// gridhost.yaml. Pure (the registry in balancer-keys.ts lists it for the policy parser).
import { DEFAULT_BALANCER } from '../../../domain/policy.ts';
import { checkListen } from '../../../policy/yaml-reader.ts';
import type { BalancerKeys } from '../balancer-keys.ts';

export const DEFAULT_LISTEN = '127.0.0.1:8080';

export const builtinKeys: BalancerKeys<never> = {
  name: 'builtin',
  policyKeys: ['listen', 'response_timeout', 'panic_threshold'],
  parsePolicy(r, bal) {
    if (bal === undefined) return { listen: DEFAULT_LISTEN };
    const f = bal.get('listen');
    let listen = r.str(f, { def: DEFAULT_LISTEN });
    const bad = listen !== undefined && bal.has('listen') ? checkListen(listen) : undefined;
    if (bad) {
      r.issue(f, bad);
      listen = undefined;
    }
    const responseTimeoutMs = r.duration(bal.get('response_timeout'), { def: DEFAULT_BALANCER.responseTimeoutMs, positive: true });
    const panicThresholdPercent = r.num(bal.get('panic_threshold'), { def: DEFAULT_BALANCER.panicThresholdPercent, min: 0, max: 100 });
    if (listen === undefined || responseTimeoutMs === undefined || panicThresholdPercent === undefined) return undefined;
    return { listen, responseTimeoutMs, panicThresholdPercent };
  },
};
