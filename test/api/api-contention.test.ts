// policy contention through the real pool loop and API: the hypervisor's host facts reach the
// decision in the tick's sample; every host saturated holds a scale-out as hosts-saturated,
// shown in GET /api/pools/:pool (its hosts, the decision, a blocker) and in /metrics.
import test from 'ava';
import { rig, TOKEN } from './rig.ts';

const busy = { name: 'busy', strategy: 'threshold' as const, metric: 'rps', aggregate: 'mean' as const, above: 1, for: 1, step: { kind: 'count' as const, value: 1 } };

async function ticks(r: Awaited<ReturnType<typeof rig>>, n: number) {
  for (let i = 0; i < n; i++) {
    await r.clock.advance(1000);
    await r.orchestrator.loop('web')!.idle();
  }
}

test('every host saturated: the scale-out holds, and the API, its blockers and /metrics say hosts saturated', async (t) => {
  const r = await rig(t, TOKEN, { policy: { contention: { saturatedAt: 0.9 }, rules: [busy], scaleOut: { cooldownMs: 0, whileBooting: 'hold' } } });
  r.hv.hosts = [{ host: 'localhost', cpuRatio: 0.96, freeMemoryMb: 4000 }];
  const before = (await r.store.listGuests({ pool: 'web' })).length;
  await ticks(r, 2);
  const v = (await r.call('/api/pools/web')).body;
  t.is(v.guests.length, before, 'the rules want one more; no guest is launched onto a saturated host');
  t.regex(v.lastDecision.reason, /^blocked: hosts saturated \(localhost 96% CPU, saturated from 90%\)/);
  t.deepEqual(v.hosts, [{ host: 'localhost', cpuRatio: 0.96, freeMemoryMb: 4000, saturated: true }]);
  t.deepEqual(v.blockers.map((b: any) => b.cause), ['hosts-saturated']);
  const metrics = (await r.call('/metrics')).text;
  t.regex(metrics, /gridhost_pool_hold\{pool="web",cause="hosts-saturated"\} 1/);
  t.regex(metrics, /gridhost_host_cpu_ratio\{host="localhost"\} 0\.96/);
  const why = (await r.call('/api/pools/web/decisions?limit=1')).body;
  t.regex(JSON.stringify(why), /blocked: hosts saturated/);

  // The host cools down: the next tick scales out.
  r.hv.hosts = [{ host: 'localhost', cpuRatio: 0.5, freeMemoryMb: 4000 }];
  await ticks(r, 1);
  const after = (await r.call('/api/pools/web')).body;
  t.is(after.guests.length, before + 1);
  t.deepEqual(after.blockers, []);
});
