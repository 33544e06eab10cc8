import test from 'ava';
import { capIssues, checkWithDeps, depsUnchanged, inlineChecker, WORKER_MAX_ISSUES, workerChecker } from './policy-checker.ts';

const S = { templatesDir: '/srv/gridhost/templates', checkFiles: false };
const GOOD = 'pool: web\nguest: {template: web.local.yaml, image: images/web}\nrules: [{strategy: threshold, metric: cpu, above: 70, step: +1}]\n';
/** About 60 KiB of unknown keys: each is an issue, and the yaml library is slow on it. */
const BIG = `${GOOD}${Array.from({ length: 6000 }, (_, i) => `key_${i}: 1`).join('\n')}\n`;

test('a worker check gives what an inline check gives, valid or not', async (t) => {
  const w = workerChecker(S);
  t.teardown(() => w.close());
  for (const text of [GOOD, 'pool: [', GOOD.replace('metric: cpu', 'metric: latency_p99')]) {
    t.deepEqual(await w.check(text, '/p/web.yaml'), checkWithDeps(text, '/p/web.yaml', S));
  }
});

test('while the worker checks, the event loop keeps turning (an inline check blocks it)', async (t) => {
  const w = workerChecker(S);
  t.teardown(() => w.close());
  await w.check(GOOD, '/p/web.yaml'); // started and warm
  const turnsDuring = async (check: () => Promise<unknown>): Promise<number> => {
    let turns = 0;
    let on = true;
    const spin = (): void => {
      if (!on) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const before = turns;
    await check();
    on = false;
    return turns - before;
  };
  t.true((await turnsDuring(() => w.check(BIG, '/p/big.yaml'))) > 0);
  t.is(await turnsDuring(() => inlineChecker(S).check(BIG, '/p/big.yaml')), 0);
});

test('a check that outlives its timeout is refused with an issue naming the limit', async (t) => {
  const w = workerChecker(S, { timeoutMs: 1 });
  t.teardown(() => w.close());
  // 120 KB of keys: tens of milliseconds at the very least, against a 1 ms limit.
  const slow = await w.check(BIG + BIG.replace(/key_/g, 'other_'), '/p/big.yaml');
  t.deepEqual(slow, { result: { ok: false, issues: [{ file: '/p/big.yaml', line: 1, col: 1, path: '', message: 'checking this policy took longer than 0.001s; refused' }] }, deps: [] });
});

test('close() answers the checks in flight', async (t) => {
  const w = workerChecker(S);
  const pending = w.check(GOOD, '/p/web.yaml');
  w.close();
  t.deepEqual(await pending, { result: { ok: false, issues: [{ file: '/p/web.yaml', line: 1, col: 1, path: '', message: 'the policy watcher was closed' }] }, deps: [] });
});

test('a check records the existence checks it made, to tell when it is worth repeating', (t) => {
  const o = checkWithDeps(GOOD, '/p/web.yaml', { templatesDir: '/t' }, (p) => p.endsWith('.yaml'));
  t.deepEqual(o.deps, [{ path: '/t/web.local.yaml', exists: true }, { path: '/t/images/web', exists: false }]);
  t.true(depsUnchanged(o.deps, (p) => p.endsWith('.yaml')));
  t.false(depsUnchanged(o.deps, () => true));
});

test('a worker answer carries at most 100 issues and counts the rest', async (t) => {
  const w = workerChecker(S);
  t.teardown(() => w.close());
  const o = await w.check(BIG, '/p/big.yaml');
  const inline = checkWithDeps(BIG, '/p/big.yaml', S);
  t.false(o.result.ok);
  t.false(inline.result.ok);
  if (o.result.ok || inline.result.ok) return;
  t.is(o.result.issues.length, WORKER_MAX_ISSUES);
  t.deepEqual(o.result.issues, inline.result.issues.slice(0, WORKER_MAX_ISSUES));
  t.is(o.result.omitted, inline.result.issues.length - WORKER_MAX_ISSUES);
  t.is(capIssues(inline, 10000), inline, 'under the cap nothing changes');
});
