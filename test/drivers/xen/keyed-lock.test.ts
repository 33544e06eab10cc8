import test from 'ava';
import { KeyedLock } from '../../../src/drivers/xen/keyed-lock.ts';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

test('runs for one key never overlap and start in call order', async (t) => {
  const lock = new KeyedLock();
  const log: string[] = [];
  const g = gate();
  const first = lock.run('h', async () => {
    log.push('1 start');
    await g.opened;
    log.push('1 end');
  });
  const second = lock.run('h', async () => {
    log.push('2 start');
  });
  await Promise.resolve();
  await Promise.resolve();
  t.deepEqual(log, ['1 start'], 'the second waits while the first runs');
  g.open();
  await Promise.all([first, second]);
  t.deepEqual(log, ['1 start', '1 end', '2 start']);
});

test('different keys do not wait for each other', async (t) => {
  const lock = new KeyedLock();
  const g = gate();
  const slow = lock.run('a', () => g.opened);
  const other = await lock.run('b', async () => 'b done');
  t.is(other, 'b done');
  g.open();
  await slow;
});

test('a failed run passes its error to its caller and does not block the next one', async (t) => {
  const lock = new KeyedLock();
  const failed = lock.run('h', async () => {
    throw new Error('xl create failed');
  });
  const next = lock.run('h', async () => 42);
  await t.throwsAsync(failed, { message: 'xl create failed' });
  t.is(await next, 42);
});

test('a key with nothing queued is forgotten', async (t) => {
  const lock = new KeyedLock();
  await lock.run('h', async () => undefined);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(lock.busy(), []);
});
