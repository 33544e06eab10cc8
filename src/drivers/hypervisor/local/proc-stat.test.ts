import test from 'ava';
import { isSameLiveProcess, parseProcStat, readProcStat } from './proc-stat.ts';

// A real line shape, with a comm containing spaces and a ')' to trip naive splitting.
const LINE = '4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 500 0 0 0 731 129 7 3 20 0 11 0 987654 1000000 2000 18446744073709551615 0 0 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0';

test('parseProcStat reads pid, state, pgrp, cpu ticks and start time after the last )', (t) => {
  t.deepEqual(parseProcStat(LINE), { pid: 4242, state: 'S', ppid: 1, pgrp: 4242, utime: 731, stime: 129, cutime: 7, cstime: 3, startTime: 987654 });
});

test('parseProcStat rejects malformed text', (t) => {
  t.is(parseProcStat('garbage'), undefined);
  t.is(parseProcStat('12 (x) S 1'), undefined);
});

test('readProcStat reads this very process and nothing for a pid that does not exist', async (t) => {
  const me = await readProcStat(process.pid);
  t.is(me?.pid, process.pid);
  t.true((me?.startTime ?? 0) > 0);
  t.is(await readProcStat(2 ** 22 + 1), undefined); // above pid_max's ceiling
});

test('a zombie or a different start time is not the same live process', (t) => {
  const s = parseProcStat(LINE);
  t.true(isSameLiveProcess(s, 987654));
  t.true(isSameLiveProcess(s));
  t.false(isSameLiveProcess(s, 987655));
  t.false(isSameLiveProcess(s && { ...s, state: 'Z' }, 987654));
  t.false(isSameLiveProcess(undefined));
});
