import test from 'ava';
import type { Guest } from '../../domain/types.ts';
import type { ProcStat } from '../hypervisor/local/proc-stat.ts';
import { ProcCpuSource } from './proc-cpu-source.ts';

const guest = (id: string, meta: Record<string, string>): Guest => ({ id, pool: 'web', state: 'healthy', driver: 'local', host: 'localhost', createdAt: 0, updatedAt: 0, meta });
const proc = (pid: number, o: Partial<ProcStat> = {}): ProcStat => ({ pid, state: 'S', ppid: 1, pgrp: pid, utime: 0, stime: 0, cutime: 0, cstime: 0, startTime: 500, ...o });

/** A fake /proc and clock the test moves forward. */
function world() {
  const procs = new Map<number, ProcStat>();
  let now = 1_000_000;
  const src = new ProcCpuSource({
    now: () => now,
    readProcStat: async (pid) => procs.get(pid),
    listPids: async () => [...procs.keys()],
    clockTicks: 100,
  });
  return { procs, src, advance: (ms: number) => (now += ms) };
}

test('the first sample of a guest is absent, not 0', async (t) => {
  const w = world();
  w.procs.set(10, proc(10, { utime: 50 }));
  const r = await w.src.sample([guest('web-1', { pid: '10', startTime: '500' })]);
  t.false(r.has('web-1'));
});

test('cpu is (utime+stime delta / clock ticks) over the wall-time delta, in % of one CPU', async (t) => {
  const w = world();
  const g = guest('web-1', { pid: '10', startTime: '500' });
  w.procs.set(10, proc(10, { utime: 100, stime: 20 }));
  await w.src.sample([g]);
  w.advance(2000);
  w.procs.set(10, proc(10, { utime: 160, stime: 40 })); // 80 ticks = 0.8 s CPU in 2 s
  t.deepEqual((await w.src.sample([g])).get('web-1'), { cpu: 40 });
  w.advance(1000);
  w.procs.set(10, proc(10, { utime: 260, stime: 40 })); // 1 s CPU in 1 s
  t.deepEqual((await w.src.sample([g])).get('web-1'), { cpu: 100 });
});

test('CPU of reaped children and of live members of the process group counts', async (t) => {
  const w = world();
  const g = guest('web-1', { pid: '10', startTime: '500' });
  w.procs.set(10, proc(10, { utime: 10 }));
  w.procs.set(11, proc(11, { pgrp: 10, utime: 5 }));
  w.procs.set(99, proc(99, { pgrp: 99, utime: 1000 })); // another group: not ours
  await w.src.sample([g]);
  w.advance(1000);
  w.procs.set(10, proc(10, { utime: 20, cutime: 5 })); // +10 own, +5 reaped child
  w.procs.set(11, proc(11, { pgrp: 10, utime: 30 })); // +25
  w.procs.set(99, proc(99, { pgrp: 99, utime: 5000 }));
  t.deepEqual((await w.src.sample([g])).get('web-1'), { cpu: 40 });
});

test('a dead guest, a zombie, a guest without a pid, a reused pid and a non-local guest are absent', async (t) => {
  const w = world();
  w.procs.set(23, proc(23, { utime: 1 }));
  const gs = [
    { ...guest('xen', { pid: '23' }), driver: 'xen' },
    guest('dead', { pid: '20', startTime: '500' }),
    guest('zombie', { pid: '21', startTime: '500' }),
    guest('nopid', {}),
    guest('reused', { pid: '22', startTime: '500' }),
  ];
  w.procs.set(21, proc(21, { state: 'Z' }));
  w.procs.set(22, proc(22, { startTime: 777 }));
  await w.src.sample(gs);
  w.advance(1000);
  w.procs.set(23, proc(23, { utime: 90 }));
  t.is((await w.src.sample(gs)).size, 0);
});

test('a guest whose process was replaced starts over with no value', async (t) => {
  const w = world();
  w.procs.set(30, proc(30, { utime: 100 }));
  await w.src.sample([guest('web-1', { pid: '30' })]);
  w.advance(1000);
  w.procs.delete(30);
  w.procs.set(31, proc(31, { utime: 5 }));
  t.false((await w.src.sample([guest('web-1', { pid: '31' })])).has('web-1'), 'new pid: no previous value');
  w.advance(1000);
  w.procs.set(31, proc(31, { utime: 55 }));
  t.deepEqual((await w.src.sample([guest('web-1', { pid: '31' })])).get('web-1'), { cpu: 50 });
});

test('a group member exiting (ticks going backwards) gives no value for that tick', async (t) => {
  const w = world();
  const g = guest('web-1', { pid: '10' });
  w.procs.set(10, proc(10, { utime: 10 }));
  w.procs.set(11, proc(11, { pgrp: 10, utime: 500 }));
  await w.src.sample([g]);
  w.advance(1000);
  w.procs.delete(11);
  w.procs.set(10, proc(10, { utime: 20 }));
  t.false((await w.src.sample([g])).has('web-1'));
  w.advance(1000);
  w.procs.set(10, proc(10, { utime: 30 }));
  t.deepEqual((await w.src.sample([g])).get('web-1'), { cpu: 10 });
});

test('the default reader measures a real process (this one) after two samples', async (t) => {
  const src = new ProcCpuSource({ listPids: async () => [] });
  const g = guest('self', { pid: String(process.pid) });
  t.false((await src.sample([g])).has('self'));
  const end = Date.now() + 300;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1); // burn so the delta is not zero
  const cpu = (await src.sample([g])).get('self')?.cpu;
  t.true(typeof cpu === 'number' && cpu > 0, `cpu=${cpu} x=${x}`);
});
