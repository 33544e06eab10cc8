import test from 'ava';
import type { Guest, GuestState } from '../domain/types.ts';
import { planRepair, type RepairAction } from './reconciler.ts';

const g = (state: GuestState): Guest => ({ id: 'web-1', pool: 'web', state, driver: 'fake', host: 'h', createdAt: 0, updatedAt: 0, meta: {} });

const cases: [GuestState, boolean, RepairAction][] = [
  ['cloning', false, 'undo'],
  ['cloning', true, 'undo'],
  ['booting', true, 'undo'],
  ['healthy', true, 'adopt'],
  ['healthy', false, 'vanished'],
  ['draining', true, 'finish-retire'],
  ['stopping', false, 'finish-retire'],
  // Sick guests wait for their pool loop: it launches the replacement first, then retires them.
  ['sick', true, 'replace'],
  ['sick', false, 'replace'],
  // A warm guest is made and paused, not half-made: kept if its driver has it, never undone.
  ['warm', true, 'keep-warm'],
  ['warm', false, 'vanished'],
  // A guest still being made for the warm pool is half-made: undone (the warm pool makes another).
  ['warming', true, 'undo'],
  ['warming', false, 'undo'],
  // Finished guests are never listed for repair; if one is, finishing again is harmless.
  ['gone', false, 'finish-retire'],
  ['failed', true, 'finish-retire'],
];
for (const [state, running, action] of cases) {
  test(`after a restart a ${state} guest that is ${running ? 'running' : 'not running'} is repaired by ${action}`, (t) => {
    t.is(planRepair(g(state), running), action);
  });
}
