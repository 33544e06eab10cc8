// Zero failed requests while guests come and go: a pool of real local guests goes 2 -> 8 -> 2
// under steady keep-alive HTTP load (wrk), once through the builtin balancer and once through
// a real HAProxy; every response outside 2xx and every socket error counts (see
// zero-failure-cycle.ts for the load and the policy). `npm run bench` prints the same figures.
import test from 'ava';
import { formatCycle, zeroFailureCycle } from './zero-failure-cycle.ts';

for (const driver of ['builtin', 'haproxy'] as const) {
  test.serial(`no request fails through the ${driver} balancer while a pool of real guests goes 2 -> 8 -> 2 under steady keep-alive load`, async (t) => {
    t.timeout(420_000);
    const r = await zeroFailureCycle(driver, (line) => t.log(line));
    t.log(formatCycle(r));
    t.is(r.maxSize, 8);
    t.is(r.endSize, 2);
    t.true(r.steps.includes('6->8') && r.steps.includes('8->6') && r.steps.at(-1) === '4->2', `steps: ${r.steps.join(', ')}`);
    t.true(r.scaleOut.requests > 100 && r.scaleIn.requests > 100, 'the steady load ran through both phases');
    t.is(r.failed, 0, `failed requests: ${JSON.stringify(r.counts)}`);
    if (driver === 'haproxy') {
      t.deepEqual([...r.servers!.keys()].sort(), r.guests.map((id) => `gh-${id}`), 'HAProxy ends with exactly the live guests');
    }
  });
}
