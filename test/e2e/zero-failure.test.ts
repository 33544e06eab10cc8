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
    // Steps of two guests at once, both ways (the rules' +2 and -2), ending at 2. Which steps: a
    // tick while a step's second guest still boots steps from the guests its metric reflects
    // ("4 -> 5 ... stepped from the 3 guests it reflects"), so a loaded machine may go 4 -> 5 -> 7.
    const delta = r.steps.map((s) => s.split('->').map(Number)).map(([from, to]) => to! - from!);
    t.true(delta.includes(2) && delta.includes(-2) && delta.every((d) => Math.abs(d) <= 2 && d !== 0) && r.steps.at(-1)!.endsWith('->2'), `steps: ${r.steps.join(', ')}`);
    t.true(r.scaleOut.requests > 100 && r.scaleIn.requests > 100, 'the steady load ran through both phases');
    t.is(r.failed, 0, `failed requests: ${JSON.stringify(r.counts)}`);
    if (driver === 'haproxy') {
      t.deepEqual([...r.servers!.keys()].sort(), r.guests.map((id) => `gh-${id}`), 'HAProxy ends with exactly the live guests');
    }
  });
}
