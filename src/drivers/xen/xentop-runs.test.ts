// XentopRuns' sharing rule against a stub dom0 connection: a run in flight is shared, a finished
// one only within shareMs of its start, each dom0 has its own, and a failure reaches every sharer.
import test from 'ava';
import type { ExecResult } from '../ssh/ssh-connection.ts';
import type { XenHosts } from './xen-hosts.ts';
import { XentopRuns } from './xentop-runs.ts';

function stub() {
  const sent: { host: string; argv: readonly string[] }[] = [];
  const pending: { resolve: (r: ExecResult) => void; reject: (e: Error) => void }[] = [];
  const hosts = {
    exec: (host: string, argv: readonly string[]) => {
      sent.push({ host, argv });
      return new Promise<ExecResult>((resolve, reject) => pending.push({ resolve, reject }));
    },
  } as unknown as XenHosts;
  return { hosts, sent, pending };
}
const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' }) as ExecResult;

test('callers while a run is in flight share it, however long it takes; after shareMs from its start a caller starts a new one', async (t) => {
  const s = stub();
  let now = 1_000;
  const runs = new XentopRuns({ hosts: s.hosts, xentopPath: '/x/xentop', shareMs: 1_000, now: () => now });
  const a = runs.run('dom0-a');
  now += 5_000; // still running (a busy dom0): shared
  const b = runs.run('dom0-a');
  t.is(s.sent.length, 1);
  t.deepEqual(s.sent[0], { host: 'dom0-a', argv: ['/x/xentop', '-b', '-f', '-d', '1', '-i', '2'] });
  s.pending[0]!.resolve(ok('one'));
  t.is((await a).stdout, 'one');
  t.is((await b).stdout, 'one');
  // Finished, and started more than shareMs ago: the next caller measures again.
  const c = runs.run('dom0-a');
  t.is(s.sent.length, 2);
  s.pending[1]!.resolve(ok('two'));
  t.is((await c).stdout, 'two');
  // Finished within shareMs of its start: handed out again.
  now += 999;
  t.is((await runs.run('dom0-a')).stdout, 'two');
  now += 1;
  void runs.run('dom0-a');
  t.is(s.sent.length, 3);
});

test('each dom0 has its own run', (t) => {
  const s = stub();
  const runs = new XentopRuns({ hosts: s.hosts, xentopPath: '/x/xentop' });
  void runs.run('dom0-a');
  void runs.run('dom0-b');
  void runs.run('dom0-a');
  t.deepEqual(s.sent.map((x) => x.host), ['dom0-a', 'dom0-b']);
});

test('a failed run rejects for every caller that shared it', async (t) => {
  const s = stub();
  const runs = new XentopRuns({ hosts: s.hosts, xentopPath: '/x/xentop' });
  const a = runs.run('dom0-a');
  const b = runs.run('dom0-a');
  s.pending[0]!.reject(new Error('unreachable'));
  await t.throwsAsync(a, { message: 'unreachable' });
  await t.throwsAsync(b, { message: 'unreachable' });
});
