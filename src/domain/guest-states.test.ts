// The one table of guest states (GUEST_STATE_FACTS): the lists derived from it.
import test from 'ava';
import { COUNTED_STATES, GUEST_STATE_FACTS, GUEST_STATES, IN_FLIGHT_STATES, LIVE_STATES } from './types.ts';

test('the states are listed in the table\'s order, each once: a guest\'s lifecycle, then the warm pool\'s two', (t) => {
  t.deepEqual([...GUEST_STATES], ['cloning', 'booting', 'healthy', 'sick', 'draining', 'stopping', 'gone', 'failed', 'warming', 'warm']);
});

test('a pool counts guests on their way up and serving, not those leaving or finished', (t) => {
  t.deepEqual([...COUNTED_STATES], ['cloning', 'booting', 'healthy']);
});

test('launches and retirements in progress are in flight; a sick guest is not (it holds no other scaling: until its replacement exists it counts as capacity coming)', (t) => {
  t.deepEqual([...IN_FLIGHT_STATES], ['cloning', 'booting', 'draining', 'stopping']);
  t.false(GUEST_STATE_FACTS.sick.inFlight);
  t.false(GUEST_STATE_FACTS.sick.counted);
});

test('only gone and failed are finished; everything else (warm guests too) may own a process, clone or balancer entry', (t) => {
  t.deepEqual([...LIVE_STATES], ['cloning', 'booting', 'healthy', 'sick', 'draining', 'stopping', 'warming', 'warm']);
});

test('a serving state is counted, live and not in flight', (t) => {
  for (const s of GUEST_STATES) {
    const f = GUEST_STATE_FACTS[s];
    if (f.serving) t.true(f.counted && f.live && !f.inFlight, s);
  }
});
