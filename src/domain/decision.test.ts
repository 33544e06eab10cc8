import test from 'ava';
import { desiredSize, scaleEventOf, type Decision } from './types.ts';

const inputs = { series: {}, min: 2, max: 8, schedules: [] };
const out: Decision = { pool: 'web', at: 5, action: 'scale-out', from: 2, to: 4, reason: 'cpu high', inputs };
const hold: Decision = { pool: 'web', at: 5, action: 'hold', from: 3, reason: 'no rule triggered', inputs };

test('the desired size of a scale action is its target, of a hold the size it was made from', (t) => {
  t.is(desiredSize(out), 4);
  t.is(desiredSize({ ...out, action: 'scale-in', from: 4, to: 2 }), 2);
  t.is(desiredSize(hold), 3);
});

test('a scale action is recorded as an event under its action name, with from, to and inputs', (t) => {
  t.deepEqual(scaleEventOf({ ...out, action: 'scale-out' }, 'started'), { pool: 'web', at: 5, direction: 'scale-out', from: 2, to: 4, reason: 'cpu high', inputs, outcome: 'started' });
  t.is(scaleEventOf({ ...out, action: 'scale-out' }, 'failed', 'boom').detail, 'boom');
});
