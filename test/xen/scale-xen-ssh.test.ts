// The SSH-channel topology, for labs and sites with no route to the guests: the builtin
// balancer in gridhost reaches each domU through dom0's SSH connection. A shorter cycle than
// the routed test's (2 -> 4 -> 2): the path under test is the data path, not the growth.
import test from 'ava';
import { scaleScenario } from './scale-scenario.ts';

test('through the builtin balancer over dom0\'s SSH connection, a xen pool grows 2 -> 4 on domU CPU then guest rps, shrinks back to 2, and leaves nothing on dom0', (t) =>
  scaleScenario(t, { routed: false, max: 4 }));
