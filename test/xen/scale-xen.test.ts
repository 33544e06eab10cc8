// gridhost 2 -> 8 -> 2 on real Xen in the production topology: HAProxy (driver `haproxy`) and
// gridhost on a network routed to the guests, no SSH on the data path. What it drives and
// checks: scale-scenario.ts.
import test from 'ava';
import { scaleScenario } from './scale-scenario.ts';

test('through HAProxy on a routed guest network, a xen pool grows 2 -> 8 on domU CPU (xentop) then guest rps, shrinks back to 2, and leaves nothing on dom0 or in HAProxy', (t) =>
  scaleScenario(t, { routed: true, max: 8 }));
