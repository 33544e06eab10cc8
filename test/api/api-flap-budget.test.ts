// policy flap_budget through the real pool loop and API: GET /api/pools/:pool shows spent/limit
// (from the pool's record, as any process reads it), a spent budget is a blocker the dashboard
// shows, and the metrics say so.
import test from 'ava';
import { rig, TOKEN } from './rig.ts';

const busy = { name: 'busy', strategy: 'threshold' as const, metric: 'rps', aggregate: 'mean' as const, above: 1, for: 2, step: { kind: 'count' as const, value: 1 } };

test('a spent flap budget holds the pool and GET /api/pools/:pool, its blockers and /metrics say so', async (t) => {
  // The rig's first tick launches 4 guests (the schedule's min): all of a budget of 4.
  const r = await rig(t, TOKEN, { policy: { flapBudget: { changes: 4, windowMs: 600_000 }, rules: [busy], scaleOut: { cooldownMs: 0, whileBooting: 'hold' } } });
  for (let i = 0; i < 3; i++) {
    await r.clock.advance(1000);
    await r.orchestrator.loop('web')!.idle();
  }
  const v = (await r.call('/api/pools/web')).body;
  t.is(v.guests.length, 4, 'the rules want 5, the budget holds at 4');
  t.like(v.flapBudget, { spent: 4, limit: 4, windowMs: 600_000, remaining: 0 });
  t.is(typeof v.flapBudget.nextAt, 'string');
  t.like(v.lastDecision, { direction: 'hold' });
  t.regex(v.lastDecision.reason, /^flap budget spent: 4 of 4 changes in 600s/);
  t.deepEqual(v.blockers.map((b: any) => b.cause), ['flap-budget']);
  const metrics = (await r.call('/metrics')).text;
  t.regex(metrics, /gridhost_flap_budget_changes\{pool="web",kind="spent"\} 4/);
  t.regex(metrics, /gridhost_flap_budget_changes\{pool="web",kind="limit"\} 4/);
  t.regex(metrics, /gridhost_pool_hold\{pool="web",cause="flap-budget"\} 1/);
});

test('a pool without flap_budget shows none', async (t) => {
  const r = await rig(t, TOKEN);
  const v = (await r.call('/api/pools/web')).body;
  t.false('flapBudget' in v);
});
