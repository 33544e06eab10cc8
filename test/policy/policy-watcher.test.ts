// The watcher against a real temp folder: files are written, broken, renamed and deleted,
// and the events it reports are checked. Waits are for events, never for a fixed time.

import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkWithDeps, inlineChecker, type PolicyChecker } from '../../src/policy/policy-checker.ts';
import { watchPolicyDir, type PolicyEvent, type WatchOptions } from '../../src/policy/policy-watcher.ts';

const T = '/srv/gridhost/templates';

function policyText(pool: string, max = 8): string {
  return [
    `pool: ${pool}`,
    `max: ${max}`,
    'guest:',
    '  template: web.local.yaml',
    '  image: images/web',
    'rules:',
    '  - {strategy: threshold, metric: cpu, above: 70, step: +1}',
    '',
  ].join('\n');
}

interface Harness {
  dir: string;
  events: PolicyEvent[];
  /** The first event after the previous match that satisfies `pred` (waits up to 20 s). */
  next(pred: (e: PolicyEvent) => boolean, what: string): Promise<PolicyEvent>;
  /** Events seen since the last match. */
  pending(): PolicyEvent[];
  close(): void;
}

function harness(t: { teardown: (fn: () => void) => void }, opts: Partial<WatchOptions> = {}, setup?: (dir: string) => void): Harness {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-watch-'));
  setup?.(dir);
  const events: PolicyEvent[] = [];
  let cursor = 0;
  let wake: (() => void) | undefined;
  // Checks on the test's thread unless a test asks for the worker (checker: undefined): twenty
  // watchers each starting a worker thread make a loaded machine slower than the waits allow.
  const checker = 'checker' in opts ? opts.checker : inlineChecker({ templatesDir: opts.templatesDir ?? T, checkFiles: opts.checkFiles ?? false });
  const w = watchPolicyDir(dir, { templatesDir: T, checkFiles: false, pollMs: 250, debounceMs: 30, ...opts, ...(checker ? { checker } : {}) }, (e) => {
    events.push(e);
    wake?.();
  });
  t.teardown(() => {
    w.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    events,
    async next(pred, what) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const i = events.findIndex((e, j) => j >= cursor && pred(e));
        if (i >= 0) {
          cursor = i + 1;
          return events[i]!;
        }
        if (Date.now() > deadline) throw new Error(`no ${what} event; saw ${JSON.stringify(events.slice(cursor))}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 500);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    pending: () => events.slice(cursor),
    close: () => w.close(),
  };
}

const loaded = (pool: string, max?: number) => (e: PolicyEvent) => e.kind === 'loaded' && e.policy.pool === pool && (max === undefined || e.policy.max === max);

test('the initial state is reported before watchPolicyDir returns', (t) => {
  const h = harness(t, {}, (dir) => {
    fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web'));
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'pool: [');
  });
  t.deepEqual(
    h.events.map((e) => e.kind),
    ['invalid', 'loaded'],
  );
  const inv = h.events[0]!;
  t.is(inv.kind === 'invalid' ? path.basename(inv.file) : '', 'bad.yaml');
});

for (const fsWatch of [true, false]) {
  const via = fsWatch ? 'fs.watch' : 'the periodic rescan alone';
  test(`change, break, fix and delete a file are all reported (via ${via})`, async (t) => {
    const h = harness(t, { fsWatch }, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web', 8)));
    const file = path.join(h.dir, 'web.yaml');
    await h.next(loaded('web', 8), 'initial loaded');

    fs.writeFileSync(file, policyText('web', 6));
    const changed = await h.next(loaded('web', 6), 'changed loaded');
    t.is(changed.kind === 'loaded' ? changed.policy.file : '', file);

    fs.writeFileSync(file, policyText('web', 6).replace('max: 6', 'max: lots'));
    const broken = await h.next((e) => e.kind === 'invalid', 'invalid');
    t.like(broken, { kind: 'invalid', file });
    t.like(broken.kind === 'invalid' ? broken.issues[0] : {}, { file, line: 2, col: 6, path: 'max' });
    // The last good version stays in force: nothing was removed.
    t.false(h.events.some((e) => e.kind === 'removed'));

    fs.writeFileSync(file, policyText('web', 5));
    await h.next(loaded('web', 5), 'fixed loaded');

    fs.rmSync(file);
    const removed = await h.next((e) => e.kind === 'removed', 'removed');
    t.deepEqual(removed, { kind: 'removed', pool: 'web', file, reason: 'deleted', detail: `${file} was deleted` });
  });
}

test('deleting a file that is currently invalid removes the pool it last held', async (t) => {
  const h = harness(t, {}, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web')));
  const file = path.join(h.dir, 'web.yaml');
  await h.next(loaded('web'), 'loaded');
  fs.writeFileSync(file, 'pool: web\nmin: 0\n');
  await h.next((e) => e.kind === 'invalid', 'invalid');
  fs.rmSync(file);
  t.deepEqual(await h.next((e) => e.kind === 'removed', 'removed'), { kind: 'removed', pool: 'web', file, reason: 'deleted', detail: `${file} was deleted` });
});

test('deleting an invalid file that never held a pool is reported as cleared', async (t) => {
  const h = harness(t, {}, (dir) => fs.writeFileSync(path.join(dir, 'bad.yaml'), 'pool: [\n'));
  const file = path.join(h.dir, 'bad.yaml');
  await h.next((e) => e.kind === 'invalid', 'invalid');
  fs.rmSync(file);
  t.deepEqual(await h.next((e) => e.kind === 'cleared', 'cleared'), { kind: 'cleared', file });
  t.false(h.events.some((e) => e.kind === 'removed'));
});

test('renaming the pool inside a file removes the old pool and loads the new one', async (t) => {
  const h = harness(t, {}, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web')));
  const file = path.join(h.dir, 'web.yaml');
  await h.next(loaded('web'), 'loaded');
  fs.writeFileSync(file, policyText('shop'));
  t.deepEqual(await h.next((e) => e.kind === 'removed', 'removed'), { kind: 'removed', pool: 'web', file, reason: 'pool-changed', detail: `${file} now defines pool shop` });
  await h.next(loaded('shop'), 'loaded shop');
  t.pass();
});

test('a second file claiming a held pool is invalid until the holder goes away, then takes over', async (t) => {
  const h = harness(t, {}, (dir) => fs.writeFileSync(path.join(dir, 'b.yaml'), policyText('web', 8)));
  const a = path.join(h.dir, 'a.yaml');
  const b = path.join(h.dir, 'b.yaml');
  await h.next(loaded('web', 8), 'loaded b');
  // a.yaml sorts first, but b.yaml already holds the pool: the incumbent keeps it.
  fs.writeFileSync(a, policyText('web', 3));
  const dup = await h.next((e) => e.kind === 'invalid', 'duplicate');
  t.like(dup, { kind: 'invalid', file: a });
  t.like(dup.kind === 'invalid' ? dup.issues[0] : {}, { file: a, line: 1, col: 7, path: 'pool' });
  t.regex(dup.kind === 'invalid' ? dup.issues[0]!.message : '', /already defined by .*b\.yaml/);

  fs.rmSync(b);
  t.deepEqual(await h.next((e) => e.kind === 'removed', 'removed'), { kind: 'removed', pool: 'web', file: b, reason: 'deleted', detail: `${b} was deleted` });
  const taken = await h.next(loaded('web', 3), 'loaded a');
  t.is(taken.kind === 'loaded' ? taken.policy.file : '', a);
});

for (const via of ['fs.watch', 'polling'] as const) {
  test(`renaming a policy file hands its pool to the new name without reporting it invalid (via ${via})`, async (t) => {
    const h = harness(t, via === 'polling' ? { fsWatch: false } : {}, (dir) => fs.writeFileSync(path.join(dir, 'a.yaml'), policyText('web')));
    const a = path.join(h.dir, 'a.yaml');
    const b = path.join(h.dir, 'b.yaml');
    await h.next(loaded('web'), 'loaded');
    // An old file (a rename keeps its mtime): not "just written", so it would be judged at once.
    const hourAgo = new Date(Date.now() - 3600_000);
    fs.utimesSync(a, hourAgo, hourAgo);
    fs.renameSync(a, b);
    t.deepEqual(await h.next((e) => e.kind === 'removed', 'removed'), { kind: 'removed', pool: 'web', file: a, reason: 'deleted', detail: `${a} was deleted` });
    const moved = await h.next(loaded('web'), 'loaded again');
    t.is(moved.kind === 'loaded' ? moved.policy.file : undefined, b);
    t.deepEqual(h.events.filter((e) => e.kind === 'invalid'), []);
  });
}

test('an unchanged file is not reported again on later scans', async (t) => {
  const h = harness(t, { fsWatch: false }, (dir) => {
    fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web'));
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'pool: [');
  });
  // Without fs.watch, each marker's event proves another periodic scan has run.
  for (let i = 0; i < 3; i++) {
    fs.writeFileSync(path.join(h.dir, `m${i}.yaml`), policyText(`m${i}`));
    await h.next(loaded(`m${i}`), `marker ${i}`);
  }
  t.deepEqual(
    h.events.map((e) => (e.kind === 'loaded' ? e.policy.pool : e.kind)),
    ['invalid', 'web', 'm0', 'm1', 'm2'],
  );
});

test('no events are delivered after close()', async (t) => {
  const h = harness(t, {}, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web')));
  h.close();
  const before = h.events.length;
  fs.writeFileSync(path.join(h.dir, 'web.yaml'), policyText('web', 3));
  // A second watcher on the same folder, polling at the same period: each marker it picks
  // up means at least one more period in which the closed watcher would have reported.
  const seen: PolicyEvent[] = [];
  const w = watchPolicyDir(h.dir, { templatesDir: T, checkFiles: false, pollMs: 250, fsWatch: false, checker: inlineChecker({ templatesDir: T, checkFiles: false }) }, (e) => seen.push(e));
  t.teardown(() => w.close());
  for (let i = 0; i < 3; i++) {
    fs.writeFileSync(path.join(h.dir, `m${i}.yaml`), policyText(`m${i}`));
    while (!seen.some(loaded(`m${i}`))) await new Promise((r) => setTimeout(r, 50));
  }
  t.true(seen.some(loaded('web', 3)));
  t.is(h.events.length, before);
});

test('saving by writing a temp file and renaming it over the policy reports a change, not a removal', async (t) => {
  const h = harness(t, {}, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web', 8)));
  const file = path.join(h.dir, 'web.yaml');
  await h.next(loaded('web', 8), 'loaded');
  fs.writeFileSync(`${file}.tmp`, policyText('web', 4));
  fs.renameSync(`${file}.tmp`, file);
  await h.next(loaded('web', 4), 'changed');
  t.false(h.events.some((e) => e.kind === 'removed' || e.kind === 'invalid'));
});

test('a file caught half-written is not reported as invalid once it is complete', async (t) => {
  // A settle time well above the gap between the two writes, even on a loaded machine.
  const h = harness(t, { settleMs: 2000 });
  const file = path.join(h.dir, 'web.yaml');
  // An editor that truncates, then writes: the watcher may see the empty file in between.
  fs.writeFileSync(file, '');
  await new Promise((r) => setTimeout(r, 120));
  fs.writeFileSync(file, policyText('web'));
  const e = await h.next((x) => x.kind === 'loaded', 'loaded');
  t.is(e.kind === 'loaded' ? e.policy.pool : '', 'web');
  t.deepEqual(h.events.filter((x) => x.kind === 'invalid'), []);
});

test('a file that stays invalid is reported once it has settled', async (t) => {
  const h = harness(t, { settleMs: 200 });
  fs.writeFileSync(path.join(h.dir, 'web.yaml'), 'pool: [');
  const e = await h.next((x) => x.kind === 'invalid', 'invalid');
  t.is(e.kind === 'invalid' ? path.basename(e.file) : '', 'web.yaml');
});

/** A checker that counts the checks per file (it checks on this thread). */
function countingChecker() {
  const counts = new Map<string, number>();
  const inner = inlineChecker({ templatesDir: T, checkFiles: false });
  const checker: PolicyChecker = {
    check: (text, file) => {
      counts.set(path.basename(file), (counts.get(path.basename(file)) ?? 0) + 1);
      return inner.check(text, file);
    },
    close: () => undefined,
  };
  return { checker, counts };
}

test('an unchanged invalid file is checked once, not on every scan', async (t) => {
  const { checker, counts } = countingChecker();
  const h = harness(t, { fsWatch: false, checker });
  fs.writeFileSync(path.join(h.dir, 'bad.yaml'), `pool: web\n${Array.from({ length: 500 }, (_, i) => `k${i}: 1`).join('\n')}\n`);
  await h.next((e) => e.kind === 'invalid', 'invalid');
  for (let i = 0; i < 3; i++) {
    fs.writeFileSync(path.join(h.dir, `m${i}.yaml`), policyText(`m${i}`));
    await h.next(loaded(`m${i}`), `marker ${i}`);
  }
  t.is(counts.get('bad.yaml'), 1);
  // Changing it is a new check.
  fs.writeFileSync(path.join(h.dir, 'bad.yaml'), policyText('bad'));
  await h.next(loaded('bad'), 'fixed');
  t.is(counts.get('bad.yaml'), 2);
});

test('an invalid file whose template was missing is checked again when the template appears, and loads', async (t) => {
  const templates = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-watch-tpl-'));
  t.teardown(() => fs.rmSync(templates, { recursive: true, force: true }));
  fs.mkdirSync(path.join(templates, 'images', 'web'), { recursive: true });
  // The worker's own file-system checks.
  const h = harness(t, { templatesDir: templates, checkFiles: true, fsWatch: false, checker: undefined }, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web')));
  const inv = await h.next((e) => e.kind === 'invalid', 'invalid');
  t.regex(inv.kind === 'invalid' ? inv.issues[0]!.message : '', /template file not found/);
  fs.writeFileSync(path.join(templates, 'web.local.yaml'), 'command: node\n');
  await h.next(loaded('web'), 'loaded once the template exists');
});

test('files after the first scan go to the checker (a worker thread by default); the first scan checks inline', async (t) => {
  const { checker, counts } = countingChecker();
  const h = harness(t, { checker }, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web')));
  t.true(h.events.some(loaded('web')));
  t.is(counts.get('web.yaml'), undefined);
  fs.writeFileSync(path.join(h.dir, 'web.yaml'), policyText('web', 5));
  await h.next(loaded('web', 5), 'changed');
  t.is(counts.get('web.yaml'), 1);
});

test('the default checker of a running watcher is a worker thread and gives the same results', async (t) => {
  const h = harness(t, { fsWatch: false, checker: undefined }, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web')));
  fs.writeFileSync(path.join(h.dir, 'web.yaml'), policyText('web', 4));
  const e = await h.next(loaded('web', 4), 'changed, checked in the worker');
  // The policy came back from another thread: frozen again, same shape as an inline check.
  t.true(Object.isFrozen(e.kind === 'loaded' ? e.policy.guest : undefined));
  const inline = checkWithDeps(policyText('web', 4), path.join(h.dir, 'web.yaml'), { templatesDir: T, checkFiles: false });
  t.deepEqual(e.kind === 'loaded' ? e.policy : undefined, inline.result.ok ? inline.result.policy : undefined);
});

test('a policy file replaced by a directory: its pool is removed saying so, and the directory is reported', async (t) => {
  const h = harness(t, {}, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web')));
  const file = path.join(h.dir, 'web.yaml');
  fs.rmSync(file);
  fs.mkdirSync(file);
  const inv = await h.next((e) => e.kind === 'invalid', 'the directory reported');
  t.deepEqual(inv, { kind: 'invalid', file, issues: [{ file, line: 1, col: 1, path: '', message: 'is a directory, not a policy file' }] });
  const removed = await h.next((e) => e.kind === 'removed', 'removed');
  t.deepEqual(removed, { kind: 'removed', pool: 'web', file, reason: 'not-a-file', detail: `${file} is a directory, not a policy file` });
  fs.rmdirSync(file);
  await h.next((e) => e.kind === 'cleared' && e.file === file, 'cleared once the directory is gone');
});

test('a policy file turned into a symlink leading out of the folder is refused; the last good policy stays', async (t) => {
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'gridhost-watch-out-'));
  t.teardown(() => fs.rmSync(outside, { recursive: true, force: true }));
  const secret = path.join(outside, 'passwd');
  fs.writeFileSync(secret, 'root:x:0:0:root:/root:/bin/bash\n');
  const h = harness(t, {}, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web')));
  const file = path.join(h.dir, 'web.yaml');
  fs.rmSync(file);
  fs.symlinkSync(secret, file);
  const inv = await h.next((e) => e.kind === 'invalid', 'refused');
  const issues = inv.kind === 'invalid' ? inv.issues : [];
  t.is(issues.length, 1);
  t.regex(issues[0]!.message, new RegExp(`^is a symlink to ${secret.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, outside the policies folder`));
  t.false(JSON.stringify(issues).includes('root:x'), 'the target is not read');
  t.false(h.events.some((e) => e.kind === 'removed'));
});

test('a file that starts defining another pool removes its old pool with the reason', async (t) => {
  const h = harness(t, {}, (dir) => fs.writeFileSync(path.join(dir, 'web.yaml'), policyText('web')));
  const file = path.join(h.dir, 'web.yaml');
  fs.writeFileSync(file, policyText('shop'));
  t.deepEqual(await h.next((e) => e.kind === 'removed', 'removed'), { kind: 'removed', pool: 'web', file, reason: 'pool-changed', detail: `${file} now defines pool shop` });
  const l = await h.next(loaded('shop'), 'loaded shop');
  t.deepEqual(l.kind === 'loaded' ? l.warnings.map((w) => w.message) : [], [`the file is named web.yaml but defines pool shop; name it shop.yaml so the pool's policy is found by its name`]);
});
